public import FoglineConfig
import FoglineMQTT
import FoglineWire
import Yams

/// Everything `fogline-edge run` needs, from a YAML file (edge-config/*.yaml documents every key)
/// with command-line flags on top. Secrets are never values here, and never flags: only where to
/// read them (``SecretSource``: a `*_file` setting, or a `FOGLINE_…` environment variable).
public struct EdgeConfiguration: Sendable, Equatable {
    public struct Broker: Sendable, Equatable {
        public var host = "127.0.0.1"
        public var port = 1883
        public var clientID: String?
        public var username: String?
        /// File whose first line is the broker password.
        public var passwordFile: String?
        /// Where the password is read from: the environment variable when set
        /// (`FOGLINE_BROKER_PASSWORD`, `FOGLINE_CLOUD_BROKER_PASSWORD`), else `password_file`.
        public var password: SecretSource?
        /// `mqtts://` URL: TLS, with the system CA store unless `ca_file` names one.
        public var usesTLS = false
        public var caFile: String?
        public var certFile: String?
        public var keyFile: String?
        /// libmosquitto's in-flight window (MOSQ_OPT_SEND_MAXIMUM).
        public var sendMaximum = 20

        /// Takes the host, port and TLS choice of a broker URL.
        mutating func use(_ address: BrokerAddress) {
            host = address.host
            port = address.port
            usesTLS = address.usesTLS
        }

        public init(host: String = "127.0.0.1", port: Int = 1883) {
            self.host = host
            self.port = port
        }
    }

    /// The local quorum (DESIGN.md "Local quorum"): this node's peer listener, the site's other
    /// nodes, and the lease and failure-detection settings. No peers: this node alone is the
    /// quorum.
    public struct Quorum: Sendable, Equatable {
        public struct Peer: Sendable, Equatable {
            public var host: String
            public var port: Int

            public init(host: String, port: Int) {
                self.host = host
                self.port = port
            }
        }

        public var listenHost = "127.0.0.1"
        public var listenPort = 7_946
        public var peers: [String: Peer] = [:]
        /// File holding the site's shared HMAC key (at least 32 bytes); required with peers.
        public var siteKeyFile: String?
        /// Where the site key is read from: `FOGLINE_SITE_KEY` when set, else `site_key_file`.
        public var siteKey: SecretSource?
        public var shards = 16
        public var roles = ["cloud-uplink"]
        public var leaseTTLMilliseconds = 3_000
        public var rebalanceDelayMilliseconds = 2_000
        public var operationTimeoutMilliseconds = 2_000
        public var heartbeatIntervalMilliseconds = 500
        public var acceptablePauseMilliseconds = 1_000
        public var phiThreshold = 8.0
    }

    /// The uplink to the aggregator (DESIGN.md "Edge ↔ cloud"): its broker and how this node signs
    /// what it sends. No broker: the site runs without a cloud.
    public struct Cloud: Sendable, Equatable {
        public var broker: Broker?
        /// File holding this node's Ed25519 private key (base64 of 32 bytes; `fogline-edge keygen`
        /// writes one). Without it frames go unsigned, which the aggregator refuses unless it runs
        /// with `accept_unsigned: true`.
        public var signingKeyFile: String?
        /// Where the signing key is read from: `FOGLINE_SIGNING_KEY` when set, else `signing_key_file`.
        public var signingKey: SecretSource?
        /// Largest MQTT payload of one batch part.
        public var maxPartBytes = 256 * 1_024
        /// Entries per batch.
        public var maxBatchEntries = 5_000
        /// Batches sent and not yet acknowledged. The aggregator commits the batches that arrive
        /// while it commits in one transaction, so a deep window makes large commits and keeps
        /// both ends busy during a catch-up (bench-reconcile, raw kept: 4 → 32 took the catch-up
        /// from 11.3 s to 7.9 s). Costs the edge only the context each batch covers.
        public var maxInFlightBatches = 32
        /// How often the holder says hello again, which makes the aggregator send what it has
        /// that the site lacks (its `desired` edits) even when no push reached this node.
        public var helloIntervalSeconds = 30
        /// The longest wait between attempts to reach the cloud broker while it is down. Short,
        /// so that the site catches up soon after the uplink returns: it is most of the time from
        /// a restored link to a caught-up aggregator when little is missing. An attempt is one TCP
        /// connect, and the jitter (attempts 1–2 s apart) spreads a fleet's sites.
        public var reconnectMaxSeconds = 2
    }

    public var site = ""
    public var node = ""
    public var broker = Broker()
    public var cloud = Cloud()
    public var quorum = Quorum()
    public var dataDirectory = "/var/lib/fogline"
    public var adminHost = "127.0.0.1"
    public var adminPort = 8080
    /// `admin.token_file`: file whose first line is the admin API's bearer token.
    public var adminTokenFile: String?
    /// Where the admin token is read from: `FOGLINE_ADMIN_TOKEN` when set, else `admin.token_file`.
    /// With a token every route but `/healthz` requires `Authorization: Bearer`; without one the
    /// API must listen on loopback.
    public var adminToken: SecretSource?
    public var flushIntervalMilliseconds = 200
    /// `storage.checkpoint_interval_ms`: how often the store folds its telemetry journal into the
    /// device-ordered tables (`EdgeStore.Configuration.journalFoldInterval`). Not a durability
    /// setting: each commit is complete on its own.
    public var checkpointIntervalMilliseconds = 120_000
    public var rawRetentionPerDevice = 10_000
    public var presenceTimeoutSeconds = 90
    public var keepRawTelemetry = true
    public var maxPayloadBytes = 65_536
    public var commandTimeoutMilliseconds = 10_000
    public var commandAttempts = 3
    public var maxClockOffsetMilliseconds = 500
    public var clockPersistWindowMilliseconds = 2_000
    /// `hlc.untrusted_lease_grace_s`: how long a node whose wall clock is untrusted (1970 boot,
    /// NTP not synced) refuses new leases before it takes them anyway (``LeaseClockGate``).
    public var untrustedClockLeaseGraceSeconds = 60
    public var logLevel = "info"

    public init() {}

    /// The settings `fogline-edge` reloads on SIGHUP: the `devices:` and `commands:` sections.
    /// Everything else takes effect at the next start.
    public struct DeviceSettings: Sendable, Equatable {
        public var presenceTimeoutSeconds: Int
        public var keepRawTelemetry: Bool
        public var maxPayloadBytes: Int
        public var commandTimeoutMilliseconds: Int
        public var commandAttempts: Int
    }

    public var deviceSettings: DeviceSettings {
        get {
            DeviceSettings(
                presenceTimeoutSeconds: presenceTimeoutSeconds, keepRawTelemetry: keepRawTelemetry, maxPayloadBytes: maxPayloadBytes,
                commandTimeoutMilliseconds: commandTimeoutMilliseconds, commandAttempts: commandAttempts)
        }
        set {
            presenceTimeoutSeconds = newValue.presenceTimeoutSeconds
            keepRawTelemetry = newValue.keepRawTelemetry
            maxPayloadBytes = newValue.maxPayloadBytes
            commandTimeoutMilliseconds = newValue.commandTimeoutMilliseconds
            commandAttempts = newValue.commandAttempts
        }
    }

    /// The changes from `self` to `new` that a reload does not apply (they need a restart), by
    /// configuration section.
    public func sectionsNeedingRestart(toApply new: EdgeConfiguration) -> [String] {
        var sections: [String] = []
        if site != new.site || node != new.node { sections.append("site/node") }
        if broker != new.broker { sections.append("broker") }
        if cloud != new.cloud { sections.append("cloud") }
        if quorum != new.quorum { sections.append("quorum") }
        if dataDirectory != new.dataDirectory { sections.append("data_dir") }
        if adminHost != new.adminHost || adminPort != new.adminPort || adminToken != new.adminToken { sections.append("admin") }
        if flushIntervalMilliseconds != new.flushIntervalMilliseconds || checkpointIntervalMilliseconds != new.checkpointIntervalMilliseconds
            || rawRetentionPerDevice != new.rawRetentionPerDevice
        {
            sections.append("storage")
        }
        if maxClockOffsetMilliseconds != new.maxClockOffsetMilliseconds || clockPersistWindowMilliseconds != new.clockPersistWindowMilliseconds
            || untrustedClockLeaseGraceSeconds != new.untrustedClockLeaseGraceSeconds
        {
            sections.append("hlc")
        }
        if logLevel != new.logLevel { sections.append("log") }
        return sections
    }

    /// Command-line flags, which override the file.
    public struct Overrides: Sendable, Equatable {
        public var site: String?
        public var node: String?
        public var broker: String?
        public var dataDirectory: String?
        public var admin: String?
        /// `--listen HOST:PORT`: the peer listener.
        public var listen: String?
        /// `--peer NODE=HOST:PORT`, repeatable: replaces the file's peer list.
        public var peers: [String]
        public var siteKeyFile: String?
        /// `--cloud mqtt://HOST:PORT`: the aggregator's broker.
        public var cloud: String?

        public init(
            site: String? = nil, node: String? = nil, broker: String? = nil, dataDirectory: String? = nil, admin: String? = nil,
            listen: String? = nil, peers: [String] = [], siteKeyFile: String? = nil, cloud: String? = nil
        ) {
            self.cloud = cloud
            self.site = site
            self.node = node
            self.broker = broker
            self.dataDirectory = dataDirectory
            self.admin = admin
            self.listen = listen
            self.peers = peers
            self.siteKeyFile = siteKeyFile
        }
    }

    /// The environment variables that hold secrets (each beside the `*_file` setting it replaces).
    public enum SecretVariable {
        public static let brokerPassword = "FOGLINE_BROKER_PASSWORD"
        public static let cloudBrokerPassword = "FOGLINE_CLOUD_BROKER_PASSWORD"
        public static let siteKey = "FOGLINE_SITE_KEY"
        public static let signingKey = "FOGLINE_SIGNING_KEY"
        public static let adminToken = "FOGLINE_ADMIN_TOKEN"
    }

    /// Reads `text` (the contents of `file`), applies `overrides`, takes secrets from the
    /// `FOGLINE_…` variables of `environment` where set, and validates the result.
    /// Throws ``ConfigErrors`` listing every problem as `FILE:LINE: message`.
    public static func load(
        text: String?, file: String, overrides: Overrides = .init(), environment: [String: String] = [:]
    ) throws(ConfigErrors) -> EdgeConfiguration {
        let reader = ConfigReader(file: file, exampleKeys: "site:, node:, broker:")
        var config = EdgeConfiguration()
        var givenKeys: Set<String> = []
        if let text {
            guard let root = reader.root(of: text) else { throw ConfigErrors(problems: reader.problems) }
            givenKeys = Set(root.keys.compactMap(\.string))
            config.read(root, reader)
        }
        config.apply(overrides, reader)
        config.resolveSecrets(environment)
        config.validate(reader, siteGiven: givenKeys.contains("site") || overrides.site != nil,
                        nodeGiven: givenKeys.contains("node") || overrides.node != nil)
        guard reader.problems.isEmpty else {
            throw ConfigErrors(problems: reader.problems.enumerated().sorted {
                ($0.element.line, $0.offset) < ($1.element.line, $1.offset)
            }.map(\.element))
        }
        return config
    }

    // MARK: Private

    private mutating func read(_ root: Yams.Node.Mapping, _ reader: ConfigReader) {
        reader.rejectUnknownKeys(
            in: root, known: ["site", "node", "broker", "cloud", "data_dir", "admin", "quorum", "storage", "devices", "commands", "hlc", "log"],
            section: "the top level")
        site = reader.string(root, "site", validate: SegmentName.siteProblem(with:)) ?? site
        node = reader.string(root, "node", validate: SegmentName.problem(with:)) ?? node
        dataDirectory = reader.string(root, "data_dir") ?? dataDirectory
        if let section = reader.section(root, "broker") { Self.readBroker(section, into: &broker, reader, section: "broker") }
        if let section = reader.section(root, "cloud") {
            reader.rejectUnknownKeys(
                in: section, known: [
                    "broker", "signing_key_file", "max_part_bytes", "max_batch_entries", "max_in_flight_batches", "hello_interval_s",
                    "reconnect_max_s",
                ],
                section: "cloud")
            if let brokerSection = reader.section(section, "broker") {
                var cloudBroker = Broker(port: 1884)
                Self.readBroker(brokerSection, into: &cloudBroker, reader, section: "cloud.broker")
                cloud.broker = cloudBroker
            }
            cloud.signingKeyFile = reader.string(section, "signing_key_file")
            cloud.maxPartBytes = reader.integer(section, "max_part_bytes", in: 1_024...268_435_455) ?? cloud.maxPartBytes
            cloud.maxBatchEntries = reader.integer(section, "max_batch_entries", in: 1...1_000_000) ?? cloud.maxBatchEntries
            cloud.maxInFlightBatches = reader.integer(section, "max_in_flight_batches", in: 1...1_024) ?? cloud.maxInFlightBatches
            cloud.helloIntervalSeconds = reader.integer(section, "hello_interval_s", in: 1...86_400) ?? cloud.helloIntervalSeconds
            cloud.reconnectMaxSeconds = reader.integer(section, "reconnect_max_s", in: 1...3_600) ?? cloud.reconnectMaxSeconds
        }
        if let admin = reader.section(root, "admin") {
            reader.rejectUnknownKeys(in: admin, known: ["listen", "token_file"], section: "admin")
            adminTokenFile = reader.string(admin, "token_file") ?? adminTokenFile
            if let endpoint = reader.string(admin, "listen", as: { HostPort.endpoint($0) }) { (adminHost, adminPort) = endpoint }
        }
        if let section = reader.section(root, "quorum") { readQuorum(section, reader) }
        if let storage = reader.section(root, "storage") {
            reader.rejectUnknownKeys(
                in: storage, known: ["flush_interval_ms", "checkpoint_interval_ms", "raw_retention_per_device"], section: "storage")
            flushIntervalMilliseconds = reader.integer(storage, "flush_interval_ms", in: 1...60_000) ?? flushIntervalMilliseconds
            checkpointIntervalMilliseconds =
                reader.integer(storage, "checkpoint_interval_ms", in: 0...3_600_000) ?? checkpointIntervalMilliseconds
            rawRetentionPerDevice = reader.integer(storage, "raw_retention_per_device", in: 0...10_000_000) ?? rawRetentionPerDevice
        }
        if let devices = reader.section(root, "devices") {
            reader.rejectUnknownKeys(
                in: devices, known: ["presence_timeout_s", "keep_raw_telemetry", "max_payload_bytes"], section: "devices")
            presenceTimeoutSeconds = reader.integer(devices, "presence_timeout_s", in: 1...86_400) ?? presenceTimeoutSeconds
            keepRawTelemetry = reader.bool(devices, "keep_raw_telemetry") ?? keepRawTelemetry
            maxPayloadBytes = reader.integer(devices, "max_payload_bytes", in: 64...16_777_216) ?? maxPayloadBytes
        }
        if let commands = reader.section(root, "commands") {
            reader.rejectUnknownKeys(in: commands, known: ["timeout_ms", "attempts"], section: "commands")
            commandTimeoutMilliseconds = reader.integer(commands, "timeout_ms", in: 100...3_600_000) ?? commandTimeoutMilliseconds
            commandAttempts = reader.integer(commands, "attempts", in: 1...100) ?? commandAttempts
        }
        if let hlc = reader.section(root, "hlc") {
            reader.rejectUnknownKeys(in: hlc, known: ["max_offset_ms", "persist_window_ms", "untrusted_lease_grace_s"], section: "hlc")
            untrustedClockLeaseGraceSeconds =
                reader.integer(hlc, "untrusted_lease_grace_s", in: 0...86_400) ?? untrustedClockLeaseGraceSeconds
            maxClockOffsetMilliseconds = reader.integer(hlc, "max_offset_ms", in: 1...3_600_000) ?? maxClockOffsetMilliseconds
            clockPersistWindowMilliseconds = reader.integer(hlc, "persist_window_ms", in: 100...600_000) ?? clockPersistWindowMilliseconds
        }
        if let log = reader.section(root, "log") {
            reader.rejectUnknownKeys(in: log, known: ["level"], section: "log")
            logLevel = reader.logLevel(log, "level") ?? logLevel
        }
    }

    private static func readBroker(_ section: Yams.Node.Mapping, into broker: inout Broker, _ reader: ConfigReader, section name: String) {
        reader.rejectUnknownKeys(
            in: section, known: ["url", "client_id", "username", "password_file", "ca_file", "cert_file", "key_file", "send_maximum"],
            section: name)
        if let address = reader.string(section, "url", as: Self.brokerAddress) { broker.use(address) }
        broker.clientID = reader.string(section, "client_id")
        broker.username = reader.string(section, "username")
        broker.passwordFile = reader.string(section, "password_file")
        broker.caFile = reader.string(section, "ca_file")
        broker.certFile = reader.string(section, "cert_file")
        broker.keyFile = reader.string(section, "key_file")
        broker.sendMaximum = reader.integer(section, "send_maximum", in: 1...65_535) ?? broker.sendMaximum
    }

    private mutating func readQuorum(_ section: Yams.Node.Mapping, _ reader: ConfigReader) {
        reader.rejectUnknownKeys(
            in: section,
            known: ["listen", "peers", "site_key_file", "shards", "roles", "lease_ttl_ms", "rebalance_delay_ms", "operation_timeout_ms",
                    "failure_detector"],
            section: "quorum")
        if let endpoint = reader.string(section, "listen", as: { HostPort.endpoint($0) }) { (quorum.listenHost, quorum.listenPort) = endpoint }
        if let peers = reader.section(section, "peers") {
            for (key, value) in peers {
                guard let name = key.string, SegmentName.problem(with: name) == nil else {
                    reader.report(key, "peer names must match [A-Za-z0-9_.-]{1,64}")
                    continue
                }
                guard let address = value.string else {
                    reader.report(value, "peer `\(name)` must be HOST:PORT, e.g. `\(name): 10.0.0.2:7947`")
                    continue
                }
                switch HostPort.endpoint(address) {
                case .success(let endpoint): quorum.peers[name] = Quorum.Peer(host: endpoint.host, port: endpoint.port)
                case .failure(let problem): reader.report(value, "peer `\(name)`: \(problem.message)")
                }
            }
        }
        quorum.siteKeyFile = reader.string(section, "site_key_file") ?? quorum.siteKeyFile
        quorum.shards = reader.integer(section, "shards", in: 1...4_096) ?? quorum.shards
        if let roles = section["roles"] {
            if let list = roles.sequence, list.allSatisfy({ $0.string.map { SegmentName.problem(with: $0) == nil } ?? false }) {
                quorum.roles = list.compactMap(\.string)
                if !quorum.roles.contains("cloud-uplink") { quorum.roles.insert("cloud-uplink", at: 0) }
            } else {
                reader.report(roles, "`roles` must be a list of names matching [A-Za-z0-9_.-]{1,64}, e.g. [cloud-uplink, backup]")
            }
        }
        quorum.leaseTTLMilliseconds = reader.integer(section, "lease_ttl_ms", in: 200...600_000) ?? quorum.leaseTTLMilliseconds
        quorum.rebalanceDelayMilliseconds = reader.integer(section, "rebalance_delay_ms", in: 0...3_600_000) ?? quorum.rebalanceDelayMilliseconds
        quorum.operationTimeoutMilliseconds = reader.integer(section, "operation_timeout_ms", in: 100...60_000) ?? quorum.operationTimeoutMilliseconds
        if let detector = reader.section(section, "failure_detector") {
            reader.rejectUnknownKeys(in: detector, known: ["heartbeat_interval_ms", "acceptable_pause_ms", "phi_threshold"], section: "quorum.failure_detector")
            quorum.heartbeatIntervalMilliseconds = reader.integer(detector, "heartbeat_interval_ms", in: 10...60_000) ?? quorum.heartbeatIntervalMilliseconds
            quorum.acceptablePauseMilliseconds = reader.integer(detector, "acceptable_pause_ms", in: 0...600_000) ?? quorum.acceptablePauseMilliseconds
            if let node = detector["phi_threshold"] {
                if let value = node.float, value >= 1, value <= 100 { quorum.phiThreshold = value } else {
                    reader.report(node, "`phi_threshold` must be a number between 1 and 100, e.g. 8")
                }
            }
        }
    }

    private mutating func apply(_ overrides: Overrides, _ reader: ConfigReader) {
        if let value = overrides.site {
            if let problem = SegmentName.siteProblem(with: value) { reader.report(line: 0, "--site: \(problem)") } else { site = value }
        }
        if let value = overrides.node {
            if let problem = SegmentName.problem(with: value) { reader.report(line: 0, "--node: \(problem)") } else { node = value }
        }
        if let address = reader.flag("--broker", overrides.broker, as: Self.brokerAddress) { broker.use(address) }
        if let address = reader.flag("--cloud", overrides.cloud, as: Self.brokerAddress) {
            var cloudBroker = cloud.broker ?? Broker()
            cloudBroker.use(address)
            cloud.broker = cloudBroker
        }
        if let value = overrides.dataDirectory { dataDirectory = value }
        applyQuorum(overrides, reader)
        if let endpoint = reader.flag("--admin", overrides.admin, as: { HostPort.endpoint($0) }) { (adminHost, adminPort) = endpoint }
    }

    private mutating func applyQuorum(_ overrides: Overrides, _ reader: ConfigReader) {
        if let endpoint = reader.flag("--listen", overrides.listen, as: { HostPort.endpoint($0) }) {
            (quorum.listenHost, quorum.listenPort) = endpoint
        }
        if !overrides.peers.isEmpty { quorum.peers = [:] }
        for value in overrides.peers {
            let parts = value.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, SegmentName.problem(with: parts[0]) == nil else {
                reader.report(line: 0, "--peer \(value): write NODE=HOST:PORT, e.g. --peer edge-b=127.0.0.1:7947")
                continue
            }
            if let endpoint = reader.flag("--peer \(value)", parts[1], as: { HostPort.endpoint($0) }) {
                quorum.peers[parts[0]] = Quorum.Peer(host: endpoint.host, port: endpoint.port)
            }
        }
        if let file = overrides.siteKeyFile { quorum.siteKeyFile = file }
    }

    private mutating func resolveSecrets(_ environment: [String: String]) {
        broker.password = SecretSource.resolve(file: broker.passwordFile, variable: SecretVariable.brokerPassword, environment: environment)
        let cloudPasswordFile = cloud.broker?.passwordFile
        cloud.broker?.password = SecretSource.resolve(
            file: cloudPasswordFile, variable: SecretVariable.cloudBrokerPassword, environment: environment)
        quorum.siteKey = SecretSource.resolve(file: quorum.siteKeyFile, variable: SecretVariable.siteKey, environment: environment)
        cloud.signingKey = SecretSource.resolve(file: cloud.signingKeyFile, variable: SecretVariable.signingKey, environment: environment)
        adminToken = SecretSource.resolve(file: adminTokenFile, variable: SecretVariable.adminToken, environment: environment)
    }

    private func validate(_ reader: ConfigReader, siteGiven: Bool, nodeGiven: Bool) {
        if let problem = ListenAddress.tokenProblem(
            api: "the admin API", section: "admin", host: adminHost, port: adminPort, hasToken: adminToken != nil,
            variable: SecretVariable.adminToken)
        {
            reader.report(line: 1, problem)
        }
        if quorum.peers[node] != nil {
            reader.report(line: 1, "quorum peer `\(node)` is this node itself; list only the site's other nodes under quorum.peers")
        }
        if !quorum.peers.isEmpty && quorum.siteKey == nil {
            reader.report(line: 1, "quorum peers need `quorum.site_key_file` (or --site-key-file, or \(SecretVariable.siteKey)): the site's shared key authenticates every peer frame")
        }
        if !siteGiven { reader.report(line: 1, "`site` is required (or pass --site): the site id, e.g. plant-1") }
        if !nodeGiven { reader.report(line: 1, "`node` is required (or pass --node): this node's name, e.g. edge-a") }
        if (broker.certFile == nil) != (broker.keyFile == nil) {
            reader.report(line: 1, "broker `cert_file` and `key_file` go together: set both for a client certificate, or neither")
        }
        if let cloudBroker = cloud.broker, (cloudBroker.certFile == nil) != (cloudBroker.keyFile == nil) {
            reader.report(line: 1, "cloud.broker `cert_file` and `key_file` go together: set both for a client certificate, or neither")
        }
    }

    /// `mqtt://HOST:PORT` (or `mqtts://`…), parsed by FoglineMQTT's ``BrokerAddress``, or why not.
    static func brokerAddress(_ text: String) -> Result<BrokerAddress, ValueProblem> {
        ValueProblem.catching { try BrokerAddress(parsing: text) }
    }
}
