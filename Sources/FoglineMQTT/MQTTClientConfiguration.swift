/// Everything an ``MQTTClient`` (or a client of an ``MQTTMultiplexer``) needs to connect.
///
/// Secrets are plain values here: read them from a file or the environment at start-up,
/// never put them in a config file that is committed. `description` never prints the password.
public struct MQTTClientConfiguration: Sendable, Hashable, CustomStringConvertible, CustomReflectable {
    public var host: String
    public var port: Int
    /// The MQTT client identifier. Must be unique per broker: a second client with the same
    /// id makes the broker drop the first.
    public var clientID: String
    public var protocolVersion: MQTTProtocolVersion
    /// How often the client and broker exchange pings when idle; whole seconds, at least 5.
    public var keepAlive: Duration
    /// Start each connection without the broker's stored session (MQTT 5: clean start).
    public var cleanSession: Bool
    public var username: String?
    public var password: String?
    /// nil for plain TCP.
    public var tls: MQTTTLSConfiguration?
    /// The message the broker publishes for this client when its connection ends without a
    /// DISCONNECT (crash, power loss, network cut).
    public var will: MQTTMessage?
    /// How many QoS 1/2 messages may await their acknowledgement at once
    /// (`MOSQ_OPT_SEND_MAXIMUM`); further ones queue inside libmosquitto.
    public var sendMaximum: Int
    public var reconnectBackoff: MQTTReconnectBackoff
    /// How long one connection attempt (TCP, TLS and CONNECT/CONNACK) may take.
    public var connectTimeout: Duration
    /// Default time a QoS 1/2 publish waits for its acknowledgement before it throws.
    public var publishTimeout: Duration
    /// Default time `subscribe`/`unsubscribe` wait for SUBACK/UNSUBACK.
    public var subscribeTimeout: Duration
    /// How many received messages ``MQTTClient/messages`` buffers for a slow reader. When the
    /// buffer is full, new messages are dropped and counted in
    /// ``MQTTClientStatistics/messagesDropped``; it never grows beyond this.
    public var incomingBufferLimit: Int

    public init(
        host: String,
        port: Int = 1883,
        clientID: String = MQTTClientConfiguration.randomClientID(),
        protocolVersion: MQTTProtocolVersion = .v311,
        keepAlive: Duration = .seconds(30),
        cleanSession: Bool = true,
        username: String? = nil,
        password: String? = nil,
        tls: MQTTTLSConfiguration? = nil,
        will: MQTTMessage? = nil,
        sendMaximum: Int = 20,
        reconnectBackoff: MQTTReconnectBackoff = MQTTReconnectBackoff(),
        connectTimeout: Duration = .seconds(10),
        publishTimeout: Duration = .seconds(30),
        subscribeTimeout: Duration = .seconds(10),
        incomingBufferLimit: Int = 1024
    ) {
        self.host = host
        self.port = port
        self.clientID = clientID
        self.protocolVersion = protocolVersion
        self.keepAlive = keepAlive
        self.cleanSession = cleanSession
        self.username = username
        self.password = password
        self.tls = tls
        self.will = will
        self.sendMaximum = sendMaximum
        self.reconnectBackoff = reconnectBackoff
        self.connectTimeout = connectTimeout
        self.publishTimeout = publishTimeout
        self.subscribeTimeout = subscribeTimeout
        self.incomingBufferLimit = incomingBufferLimit
    }

    /// A configuration from a broker URL such as `mqtt://127.0.0.1:1883` or
    /// `mqtts://broker.example:8883` (`tcp://` and `ssl://` work too). `mqtts` uses TLS with the
    /// system CA store; set ``tls`` afterwards to use another CA or a client certificate.
    ///
    /// - Throws: ``MQTTClientError/invalidConfiguration(_:)`` for anything else, including
    ///   credentials in the URL (pass them as `username`/`password`).
    public init(brokerURL: String, clientID: String = MQTTClientConfiguration.randomClientID()) throws {
        let address = try BrokerAddress(parsing: brokerURL)
        self.init(host: address.host, port: address.port, clientID: clientID, tls: address.usesTLS ? MQTTTLSConfiguration() : nil)
    }

    /// `mqtt://host:port` or `mqtts://host:port`: how errors and logs name the broker.
    public var brokerDescription: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "\(tls == nil ? "mqtt" : "mqtts")://\(host):\(port)"
    }

    public var description: String {
        var parts = ["broker: \(brokerDescription)", "clientID: \(clientID)", "protocol: \(protocolVersion)"]
        if let username { parts.append("username: \(username)") }
        if password != nil { parts.append("password: <redacted>") }
        if let will { parts.append("will: \(will.topic)") }
        return "MQTTClientConfiguration(\(parts.joined(separator: ", ")))"
    }

    /// What `dump()` and debuggers show: every setting, the password redacted.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "host": host, "port": port, "clientID": clientID, "protocolVersion": protocolVersion,
            "keepAlive": keepAlive, "cleanSession": cleanSession, "username": username as Any,
            "password": password == nil ? "nil" : "<redacted>", "tls": tls as Any, "will": will as Any,
            "sendMaximum": sendMaximum, "reconnectBackoff": reconnectBackoff, "connectTimeout": connectTimeout,
            "publishTimeout": publishTimeout, "subscribeTimeout": subscribeTimeout, "incomingBufferLimit": incomingBufferLimit,
        ])
    }

    /// `prefix-` followed by 12 random lowercase hex digits.
    public static func randomClientID(prefix: String = "fogline") -> String {
        var random = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef")
        let suffix = String((0..<12).map { _ in digits[Int(random.next() % 16)] })
        return "\(prefix)-\(suffix)"
    }

    /// Checks what libmosquitto would otherwise reject with an unhelpful `MOSQ_ERR_INVAL`.
    func validate() throws(MQTTClientError) {
        func invalid(_ text: String) -> MQTTClientError { .invalidConfiguration(text) }
        if host.isEmpty { throw invalid("the broker host is empty.") }
        if !(1...65_535).contains(port) { throw invalid("the broker port \(port) is not between 1 and 65535.") }
        if clientID.utf8.count > 65_535 || clientID.utf8.contains(0) {
            throw invalid("the client id must be at most 65535 bytes of UTF-8 without NUL.")
        }
        if clientID.isEmpty && !cleanSession {
            throw invalid("a persistent session (cleanSession = false) needs a non-empty client id.")
        }
        let keepAliveSeconds = MQTTReconnectBackoff.seconds(keepAlive)
        if keepAliveSeconds < 5 || keepAliveSeconds > 65_535 {
            throw invalid("keepAlive must be between 5 s and 65535 s (libmosquitto refuses less than 5 s).")
        }
        if password != nil && username == nil { throw invalid("a password needs a username.") }
        if sendMaximum < 1 || sendMaximum > 65_535 { throw invalid("sendMaximum must be between 1 and 65535.") }
        if incomingBufferLimit < 1 { throw invalid("incomingBufferLimit must be at least 1.") }
        if connectTimeout <= .zero || publishTimeout <= .zero || subscribeTimeout <= .zero {
            throw invalid("connectTimeout, publishTimeout and subscribeTimeout must be positive.")
        }
        if reconnectBackoff.minimumDelay < .zero || reconnectBackoff.maximumDelay < reconnectBackoff.minimumDelay {
            throw invalid("reconnectBackoff needs 0 ≤ minimumDelay ≤ maximumDelay.")
        }
        if let tls {
            if (tls.certFile == nil) != (tls.keyFile == nil) {
                throw invalid("TLS client authentication needs both certFile and keyFile.")
            }
        }
        if let will { try MQTTTopic.validateTopicName(will.topic) }
    }

    var keepAliveSeconds: Int32 { Int32(MQTTReconnectBackoff.seconds(keepAlive).rounded()) }
}
