import FoglineMQTT
import Synchronization

/// Hands the MQTT messages that arrived since the node last looked to the node in one piece.
///
/// Why: handling each message in its own hop onto the node's actor, with its own store batch and
/// its own hop onto the writer, cost more CPU than ingesting it. A pump task moves messages from
/// the client's stream into this inbox; the node takes everything waiting (at most
/// `maxBatch`) per hop, so under load one hop and one store batch cover hundreds of messages,
/// and when idle a message is handled as soon as it arrives.
///
/// The inbox holds at most `capacity` messages: a full inbox makes the pump wait, so the
/// client's bounded stream fills and drops (and counts) the excess instead of memory growing.
final class MessageInbox: Sendable {
    private struct State {
        var messages: [MQTTMessage] = []
        var finished = false
        var consumer: CheckedContinuation<Void, Never>?
        var producer: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())
    let capacity: Int
    let maxBatch: Int

    init(capacity: Int = 4_096, maxBatch: Int = 1_024) {
        precondition(capacity > 0 && maxBatch > 0)
        self.capacity = capacity
        self.maxBatch = maxBatch
    }

    /// Moves `stream` into the inbox until it ends or the task is cancelled, then finishes the inbox.
    func pump(_ stream: AsyncStream<MQTTMessage>) async {
        for await message in stream {
            if Task.isCancelled { break }
            await put(message)
        }
        finish()
    }

    /// The messages waiting (oldest first, at most `maxBatch`), waiting for one if there are
    /// none; `nil` once the inbox is finished and empty.
    func take() async -> [MQTTMessage]? {
        while true {
            let taken: [MQTTMessage]? = state.withLock { state in
                guard !state.messages.isEmpty else { return state.finished ? [] : nil }
                let batch: [MQTTMessage]
                if state.messages.count <= maxBatch {
                    batch = state.messages
                    state.messages = []
                    state.messages.reserveCapacity(min(capacity, 2 * batch.count))
                } else {
                    batch = Array(state.messages.prefix(maxBatch))
                    state.messages.removeFirst(maxBatch)
                }
                if let producer = state.producer {
                    state.producer = nil
                    producer.resume()
                }
                return batch
            }
            if let taken { return taken.isEmpty ? nil : taken }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    if !state.messages.isEmpty || state.finished { return true }
                    state.consumer = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }

    /// Ends the inbox: `take()` returns what is left, then `nil`.
    func finish() {
        let waiters = state.withLock { state in
            state.finished = true
            defer { state.consumer = nil; state.producer = nil }
            return (state.consumer, state.producer)
        }
        waiters.0?.resume()
        waiters.1?.resume()
    }

    private func put(_ message: MQTTMessage) async {
        while true {
            let (stored, consumer): (Bool, CheckedContinuation<Void, Never>?) = state.withLock { state in
                if state.finished { return (true, nil) }  // nobody will read it any more
                guard state.messages.count < capacity else { return (false, nil) }
                state.messages.append(message)
                defer { state.consumer = nil }
                return (true, state.consumer)
            }
            consumer?.resume()
            if stored { return }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    if state.messages.count < capacity || state.finished { return true }
                    state.producer = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }
}
