import Synchronization

/// One awaiting API call (publish, subscribe, wait for connection). Shared between the caller's
/// task (which may cancel it) and the loop thread (which completes it): the loop checks the
/// flag before it starts, and the cancel handler finds the call by identity afterwards.
final class MQTTPendingCall: Sendable {
    private let cancelled = Atomic<Bool>(false)

    var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    func markCancelled() { cancelled.store(true, ordering: .releasing) }

    var key: ObjectIdentifier { ObjectIdentifier(self) }
}
