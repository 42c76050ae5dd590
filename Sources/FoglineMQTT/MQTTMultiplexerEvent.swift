/// What happened to one client of an ``MQTTMultiplexer``; delivered on the multiplexer's thread.
public enum MQTTMultiplexerEvent: Sendable, Hashable {
    /// CONNACK accepted; remembered subscriptions are being restored.
    case connected(sessionPresent: Bool)
    /// An established connection ended. The client reconnects with backoff unless `reason` is
    /// ``MQTTClientError/clientStopped`` (after ``MQTTMultiplexer/ClientHandle/disconnect()``).
    case disconnected(reason: MQTTClientError)
    /// A connection attempt failed; the next follows after the backoff.
    case connectFailed(reason: MQTTClientError)
    case message(MQTTMessage)
    /// The publish with this mid completed: QoS 0 written to the socket, QoS 1/2 acknowledged.
    case published(mid: Int32)
    /// The broker answered a subscription; `grantedQoS` is nil when it refused it.
    case subscribed(filter: String, grantedQoS: MQTTQoS?)
}

/// Counters of an ``MQTTMultiplexer``, readable from any thread.
public struct MQTTMultiplexerStatistics: Sendable, Hashable {
    public var clients = 0
    public var connectedClients = 0
    /// Clients with a connection attempt under way (bounded by `maximumConnectsInFlight`).
    public var connectingClients = 0
    public var connectAttempts = 0
    public var connectFailures = 0
    /// Successful connections, reconnections included.
    public var connects = 0
    public var disconnects = 0
    public var messagesReceived = 0
    public var messagesPublished = 0
    /// Publishes written (QoS 0) or acknowledged (QoS 1/2).
    public var publishesCompleted = 0
}
