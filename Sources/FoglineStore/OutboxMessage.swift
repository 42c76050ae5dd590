/// An MQTT uplink message that must survive a restart (QoS 1 frames to the cloud, retained
/// `desired` messages): appended to the outbox in the same transaction as the state change that
/// produced it, and deleted once the broker acknowledges it.
public struct OutboxMessage: Sendable, Hashable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: QoS
    public var retain: Bool
    /// Wall time of creation (ms since the Unix epoch): for age metrics, not for ordering.
    public var createdMilliseconds: UInt64
    /// When set, appending a message whose key is already in the outbox does nothing, which makes
    /// re-committing the batch that appended it a no-op (e.g. an uplink frame id). Without a key,
    /// every commit appends.
    public var deduplicationKey: String?

    public enum QoS: UInt8, Sendable, Hashable {
        case atMostOnce = 0
        case atLeastOnce = 1
        case exactlyOnce = 2
    }

    public init(
        topic: String, payload: [UInt8], qos: QoS = .atLeastOnce, retain: Bool = false,
        createdMilliseconds: UInt64, deduplicationKey: String? = nil
    ) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.createdMilliseconds = createdMilliseconds
        self.deduplicationKey = deduplicationKey
    }
}

/// A message waiting in the outbox, with the id to acknowledge it by.
public struct OutboxEntry: Sendable, Hashable {
    /// Increases with every append and is never reused, so it orders the outbox (FIFO).
    public var id: Int64
    public var message: OutboxMessage

    public init(id: Int64, message: OutboxMessage) {
        self.id = id
        self.message = message
    }
}
