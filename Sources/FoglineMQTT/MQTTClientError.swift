/// Everything that can go wrong with an MQTT connection, worded so that the person reading the
/// log knows what to check next.
///
/// `broker` is always the address the client was configured with, e.g. `mqtt://127.0.0.1:1883`.
public enum MQTTClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The configuration cannot work (empty host, bad port, unreadable TLS file, ...).
    case invalidConfiguration(String)
    /// The TCP connection could not be made or was closed before the broker answered CONNECT.
    case connectionFailed(broker: String, detail: String)
    /// The broker's host name could not be resolved.
    case hostNotFound(broker: String)
    /// The broker refused the credentials (wrong user name or password, or not authorised).
    case notAuthorized(broker: String, reason: String)
    /// The broker refused the connection for another reason (client id rejected, protocol
    /// version, server unavailable, ...).
    case connectionRejected(broker: String, reason: String)
    /// The TLS handshake failed (untrusted certificate, host name mismatch, wrong key, ...).
    case tlsFailed(broker: String, detail: String)
    /// The broker did not answer CONNECT within the configured connect timeout.
    case connectTimedOut(broker: String, after: Duration)
    /// An established connection was lost. The client reconnects by itself.
    case connectionLost(broker: String, detail: String)
    /// An operation needed a connection and there was none. Nothing was sent.
    case notConnected(broker: String)
    /// ``MQTTClient/waitUntilConnected(timeout:)`` gave up. `lastFailure` is why the last
    /// attempt failed, when one did.
    case stillNotConnected(broker: String, after: Duration, lastFailure: String?)
    /// A QoS 1/2 publish was not acknowledged in time. It may still be delivered later.
    case publishTimedOut(topic: String, after: Duration)
    /// The broker acknowledged a publish with an MQTT 5 failure reason code.
    case publishRejected(topic: String, reason: String)
    /// The broker refused a subscription (SUBACK failure code 0x80).
    case subscriptionRejected(filter: String)
    /// No SUBACK/UNSUBACK arrived in time; the (un)subscription stays remembered.
    case subscriptionTimedOut(filter: String, after: Duration)
    /// The topic cannot be published to (empty, wildcards, invalid UTF-8, NUL, too long).
    case invalidTopic(String, detail: String)
    /// The topic filter cannot be subscribed to.
    case invalidTopicFilter(String, detail: String)
    /// The payload is larger than MQTT allows or than the broker accepts.
    case payloadTooLarge(topic: String, size: Int)
    /// The client was stopped with ``MQTTClient/disconnect()``.
    case clientStopped
    /// A libmosquitto call failed in a way not covered above.
    case library(operation: String, code: Int32, detail: String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let detail):
            return "The MQTT client configuration is invalid: \(detail)"
        case .connectionFailed(let broker, let detail):
            return "Could not connect to \(broker): \(detail). Is the broker running, and are its host and port right?"
        case .hostNotFound(let broker):
            return "Could not resolve the host of \(broker). Check the host name and the DNS or /etc/hosts of this machine."
        case .notAuthorized(let broker, let reason):
            return "The broker at \(broker) refused the login: \(reason). Check the username and password of this client "
                + "against the broker's password file, and its ACL."
        case .connectionRejected(let broker, let reason):
            return "The broker at \(broker) refused the connection: \(reason)."
        case .tlsFailed(let broker, let detail):
            return "The TLS handshake with \(broker) failed: \(detail). Check the CA file, the client certificate and key, "
                + "and that the broker's certificate names the host you connect to."
        case .connectTimedOut(let broker, let after):
            return "The broker at \(broker) did not answer CONNECT within \(after.fogDescription). Does the port speak MQTT "
                + "(mqtts:// for a TLS port), and is the network up?"
        case .connectionLost(let broker, let detail):
            return "The connection to \(broker) was lost: \(detail). The client reconnects by itself."
        case .notConnected(let broker):
            return "Not connected to \(broker), so nothing was sent. QoS 1/2 messages are refused while disconnected "
                + "because libmosquitto would queue them anyway and a retry would duplicate them: keep durable messages "
                + "in the outbox and send them after the client reconnects."
        case .stillNotConnected(let broker, let after, let lastFailure):
            let last = lastFailure.map { " The last attempt failed: \($0)" } ?? " Is the broker running?"
            return "Still not connected to \(broker) after \(after.fogDescription).\(last)"
        case .publishTimedOut(let topic, let after):
            return "The broker did not acknowledge the message to \(topic) within \(after.fogDescription). libmosquitto "
                + "keeps it and may still deliver it after reconnecting, so do not publish it again blindly: durable "
                + "messages go through the outbox, whose receivers deduplicate."
        case .publishRejected(let topic, let reason):
            return "The broker rejected the message to \(topic): \(reason). Check the broker's ACL for this client."
        case .subscriptionRejected(let filter):
            return "The broker refused the subscription to \(filter). Check the broker's ACL for this client and the filter."
        case .subscriptionTimedOut(let filter, let after):
            return "The broker did not confirm the (un)subscription of \(filter) within \(after.fogDescription). "
                + "It is kept and sent again after the next reconnect."
        case .invalidTopic(let topic, let detail):
            return "Cannot publish to \"\(topic)\": \(detail)."
        case .invalidTopicFilter(let filter, let detail):
            return "Cannot subscribe to \"\(filter)\": \(detail)."
        case .payloadTooLarge(let topic, let size):
            return "The \(size)-byte payload for \(topic) is larger than MQTT or the broker allows (at most 268,435,455 bytes, "
                + "often much less: see the broker's message_size_limit)."
        case .clientStopped:
            return "The MQTT client was stopped with disconnect(). Create a new client to connect again."
        case .library(let operation, let code, let detail):
            return "libmosquitto \(operation) failed: \(detail) (code \(code))."
        }
    }
}

extension Duration {
    /// "250 ms", "2 s", "1.5 s": durations as people write them in error messages.
    var fogDescription: String {
        let seconds = MQTTReconnectBackoff.seconds(self)
        if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
        if seconds == seconds.rounded() { return "\(Int(seconds)) s" }
        return "\((seconds * 10).rounded() / 10) s"
    }
}
