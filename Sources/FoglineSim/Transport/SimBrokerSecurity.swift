import FoglineMQTT

/// How simulated devices authenticate to the site broker: each device logs in with its id as
/// the username and its own password (from `fogline-edge provision`'s credentials file), over
/// TLS when a CA file is given or the broker URL is `mqtts://`.
public struct SimBrokerSecurity: Sendable, Equatable {
    /// Password by device id; nil: devices connect without credentials.
    public var passwords: [String: String]?
    /// PEM CA that signed the broker's certificate; nil with `mqtts://` uses the system store.
    public var caFile: String?
    /// PEM client certificate and key, for brokers that require them (both or neither).
    public var certFile: String?
    public var keyFile: String?

    public init(passwords: [String: String]? = nil, caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil) {
        self.passwords = passwords
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
    }

    /// The devices of `simulation` that have no password, when passwords are given.
    public func devicesWithoutPassword(in simulation: Simulation) -> [String] {
        guard let passwords else { return [] }
        return simulation.devices.map(\.id).filter { passwords[$0] == nil }
    }

    /// TLS settings for a broker at `address`, or nil for plain MQTT.
    func tls(usesTLSScheme: Bool) -> MQTTTLSConfiguration? {
        guard usesTLSScheme || caFile != nil || certFile != nil else { return nil }
        return MQTTTLSConfiguration(caFile: caFile, certFile: certFile, keyFile: keyFile)
    }
}
