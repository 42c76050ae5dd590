/// A change of an ``MQTTClient``'s connection, in the order it happened.
public enum MQTTConnectionEvent: Sendable, Hashable, CustomStringConvertible {
    /// CONNACK accepted. `sessionPresent` tells whether the broker kept a session (only
    /// possible with `cleanSession = false`). Remembered subscriptions are being restored.
    case connected(sessionPresent: Bool)
    /// An established connection ended. The client reconnects by itself unless `reason` is
    /// ``MQTTClientError/clientStopped``.
    case disconnected(reason: MQTTClientError)
    /// A connection attempt failed; the next one follows after the reconnect backoff.
    case connectFailed(reason: MQTTClientError)

    public var description: String {
        switch self {
        case .connected(let sessionPresent): "connected (session present: \(sessionPresent))"
        case .disconnected(let reason): "disconnected: \(reason)"
        case .connectFailed(let reason): "connect failed: \(reason)"
        }
    }
}
