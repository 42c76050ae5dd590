/// MQTT protocol version spoken to the broker.
public enum MQTTProtocolVersion: Sendable, Hashable {
    /// MQTT 3.1.1, the default: every broker speaks it.
    case v311
    /// MQTT 5: reason codes on acks, needed for shared subscriptions on some brokers.
    case v5
}

/// TLS settings for a connection. Paths are read by libmosquitto when the client is created.
public struct MQTTTLSConfiguration: Sendable, Hashable {
    /// PEM file of the CA(s) that signed the broker's certificate; nil uses the system store
    /// (`/etc/ssl/certs`).
    public var caFile: String?
    /// PEM client certificate for mutual TLS; needs `keyFile` as well.
    public var certFile: String?
    /// PEM private key of `certFile` (unencrypted).
    public var keyFile: String?
    /// Accept any certificate and host name. **For tests only**: it makes TLS worthless
    /// against an active attacker.
    public var insecureSkipVerify: Bool

    public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil, insecureSkipVerify: Bool = false) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.insecureSkipVerify = insecureSkipVerify
    }
}
