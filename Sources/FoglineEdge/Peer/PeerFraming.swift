public import NIOCore
import Synchronization

/// The largest payload a connection currently accepts. It starts at the handshake limit and is
/// raised once the peer has authenticated, so an unauthenticated client cannot make us buffer
/// a megabyte. Public, like ``PeerFrameDecoder``, for the fuzzer.
public final class PeerFrameLimit: Sendable {
    private let value: Atomic<Int>
    public init(_ initial: Int) { value = Atomic(initial) }
    public var current: Int { value.load(ordering: .acquiring) }
    public func raise(to limit: Int) { value.store(limit, ordering: .releasing) }
}

/// Why a frame or a connection was refused.
public struct PeerFrameError: Error {
    public let reason: PeerTransport.RejectReason
}

/// Splits the byte stream into payloads: a 4-byte big-endian length, then that many bytes. The
/// length is checked against the limit before any of the payload is awaited, so an oversized
/// prefix fails at once; a zero length is malformed; end of stream inside a frame is `truncated`.
/// Public for the fuzzer, which feeds it hostile byte streams.
public struct PeerFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer
    let limit: PeerFrameLimit

    public init(limit: PeerFrameLimit) { self.limit = limit }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard length > 0 else { throw PeerFrameError(reason: .malformed) }
        guard UInt64(length) <= UInt64(limit.current) else { throw PeerFrameError(reason: .oversized) }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        let payload = buffer.readSlice(length: Int(length))!
        context.fireChannelRead(wrapInboundOut(payload))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 { throw PeerFrameError(reason: .truncated) }
        return .needMoreData
    }
}

/// One peer's bounded send queue. `enqueue` never blocks; `take` suspends until frames are
/// queued, the outbox is closed, or the task is cancelled.
final class PeerOutbox: Sendable {
    private struct State {
        var queue = CircularBuffer<[UInt8]>()
        var waiter: CheckedContinuation<Void, Never>?
        var closed = false
    }

    private let state = Mutex(State())
    let limit: Int

    init(limit: Int) { self.limit = limit }

    enum EnqueueResult { case queued, full, closed }

    /// Appends `body` unless the queue is full or closed (then the frame is dropped).
    func enqueue(_ body: [UInt8]) -> EnqueueResult {
        let (result, waiter) = state.withLock { state -> (EnqueueResult, CheckedContinuation<Void, Never>?) in
            guard !state.closed else { return (.closed, nil) }
            guard state.queue.count < limit else { return (.full, nil) }
            state.queue.append(body)
            let waiter = state.waiter
            state.waiter = nil
            return (.queued, waiter)
        }
        waiter?.resume()
        return result
    }

    var count: Int { state.withLock { $0.queue.count } }

    /// Up to `maxFrames` queued frames, removed from the queue; nil when closed or cancelled.
    func take(maxFrames: Int) async -> [[UInt8]]? {
        while true {
            if Task.isCancelled { return nil }
            let batch = state.withLock { state -> [[UInt8]]?? in
                if state.closed { return .some(nil) }
                guard !state.queue.isEmpty else { return nil }
                var batch: [[UInt8]] = []
                while batch.count < maxFrames, let frame = state.queue.popFirst() { batch.append(frame) }
                return .some(batch)
            }
            if let batch { return batch }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { state -> Bool in
                        if state.closed || !state.queue.isEmpty || Task.isCancelled { return true }
                        state.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                self.wake()
            }
        }
    }

    func close() {
        state.withLock { $0.closed = true }
        wake()
    }

    private func wake() {
        let waiter = state.withLock { state in
            let waiter = state.waiter
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }
}
