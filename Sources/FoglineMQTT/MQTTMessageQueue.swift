import Synchronization

/// The messages a client received that its reader has not taken yet: a bounded queue the loop
/// thread fills without ever waiting, emptied by one reader a message or a batch at a time.
///
/// Why not an `AsyncStream`: a stream resumes its reader for every message, and at 1,000
/// messages a second that wake-up (a pool thread woken, a task resumed) cost the edge more CPU
/// than handling the message. A reader that takes everything waiting
/// (``nextBatch(maximum:)``) and pauses between batches is woken only when it found the queue
/// empty.
///
/// Holds at most ``capacity`` messages: beyond that newer ones are refused (the client counts
/// them as dropped, see ``MQTTClient/statistics``), so memory stays flat when the reader falls
/// behind. Read it from one task at a time; a reader whose task is cancelled gets `nil`.
public final class MQTTMessageQueue: AsyncSequence, Sendable {
    public typealias Element = MQTTMessage
    public typealias Failure = Never

    /// What became of an offered message.
    enum Offer: Equatable { case enqueued, dropped, finished }

    private struct State {
        var messages: [MQTTMessage] = []
        /// Messages before `head` were taken one at a time and are compacted away lazily, so
        /// taking one message does not move all the others.
        var head = 0
        var finished = false
        var reader: CheckedContinuation<Void, Never>?

        var waiting: Int { messages.count - head }

        mutating func take(maximum: Int) -> [MQTTMessage] {
            let count = Swift.min(maximum, waiting)
            if head == 0 && count == messages.count {
                // The common case under load: hand over the whole buffer without copying.
                defer { messages = []; messages.reserveCapacity(count) }
                return messages
            }
            let batch = Array(messages[head..<(head + count)])
            head += count
            if head == messages.count {
                messages.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 64 && head * 2 >= messages.count {
                messages.removeFirst(head)
                head = 0
            }
            return batch
        }
    }

    private let state = Mutex(State())
    /// The most messages held at once.
    public let capacity: Int

    init(capacity: Int) {
        precondition(capacity > 0, "a message queue holds at least one message")
        self.capacity = capacity
    }

    /// The messages waiting, oldest first and at most `maximum` of them, waiting for one when
    /// there are none. `nil` once the client stopped and everything was taken, or when the
    /// calling task is cancelled.
    public func nextBatch(maximum: Int) async -> [MQTTMessage]? {
        precondition(maximum > 0, "a batch holds at least one message")
        while true {
            if Task.isCancelled { return nil }
            let batch: [MQTTMessage]? = state.withLock { state in
                if state.waiting > 0 { return state.take(maximum: maximum) }
                return state.finished ? [] : nil
            }
            if let batch { return batch.isEmpty ? nil : batch }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { state in
                        // Checked under the lock: a cancellation handler that ran before the
                        // reader was stored finds nothing to resume.
                        if state.waiting > 0 || state.finished || Task.isCancelled { return true }
                        precondition(state.reader == nil, "MQTTMessageQueue is read by two tasks at once")
                        state.reader = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                wakeReader { _ in }
            }
        }
    }

    /// How many messages are waiting.
    public var count: Int { state.withLock { $0.waiting } }

    /// Whether a reader is suspended waiting for a message (tests use it to offer to a waiting reader).
    var hasSuspendedReader: Bool { state.withLock { $0.reader != nil } }

    /// Adds `message` unless the queue is full or finished; never waits (the loop thread calls it).
    func offer(_ message: MQTTMessage) -> Offer {
        var offer = Offer.enqueued
        wakeReader { state in
            if state.finished {
                offer = .finished
            } else if state.waiting >= capacity {
                offer = .dropped
            } else {
                state.messages.append(message)
            }
        }
        return offer
    }

    /// Ends the queue: the reader takes what is left, then gets `nil`. Later offers are refused.
    func finish() {
        wakeReader { $0.finished = true }
    }

    /// Applies `change` and resumes a waiting reader, outside the lock.
    private func wakeReader(after change: (inout State) -> Void) {
        let reader = state.withLock { state in
            change(&state)
            defer { state.reader = nil }
            return state.reader
        }
        reader?.resume()
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        public typealias Failure = Never
        let queue: MQTTMessageQueue

        public mutating func next() async -> MQTTMessage? {
            await queue.nextBatch(maximum: 1)?.first
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(queue: self) }
}
