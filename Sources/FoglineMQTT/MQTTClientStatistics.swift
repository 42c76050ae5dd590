/// Counters of an ``MQTTClient``, from the moment it was created.
public struct MQTTClientStatistics: Sendable, Hashable {
    /// Messages that arrived from the broker (including dropped ones).
    public var messagesReceived = 0
    /// Received messages dropped because ``MQTTClient/messages`` was full (or nobody read it).
    public var messagesDropped = 0
    /// Publishes libmosquitto accepted (any QoS).
    public var messagesPublished = 0
    /// QoS 1/2 publishes the broker acknowledged.
    public var publishesAcknowledged = 0
    /// QoS 1/2 publishes that timed out, were cancelled or were rejected by the broker.
    public var publishesFailed = 0
    /// Successful connections, the first included.
    public var connects = 0
    /// Successful connections after the first.
    public var reconnects = 0
    public var connectFailures = 0
    /// Established connections that ended (lost, or closed by ``MQTTClient/disconnect()``).
    public var disconnects = 0

    public init() {}
}
