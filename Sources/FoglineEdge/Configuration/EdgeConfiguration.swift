import FoglineMQTT
import FoglineWire
import Yams

/// Everything `fogline-edge run` needs, from a YAML file (edge-config/*.yaml documents every key)
/// with command-line flags on top. Secrets are never values here: only paths to files or names of
/// environment variables that hold them.
public struct EdgeConfiguration: Sendable, Equatable {
    public struct Broker: Sendable, Equatable {
        public var host = "127.0.0.1"
        public var port = 1883
        public var clientID: String?
        public var username: String?
        /// File whose first line is the broker password.
        public var passwordFile: String?
        public var caFile: String?
        public var certFile: String?
        public var keyFile: String?
        /// libmosquitto's in-flight window (MOSQ_OPT_SEND_MAXIMUM).
        public var sendMaximum = 20
    }

    public var site = ""
    public var node = ""
    public var broker = Broker()
    public var dataDirectory = "/var/lib/fogline"
    public var adminHost = "127.0.0.1"
    public var adminPort = 8080
    public var flushIntervalMilliseconds = 200
    public var rawRetentionPerDevice = 10_000
    public var presenceTimeoutSeconds = 90
    public var keepRawTelemetry = true
    public var maxPayloadBytes = 65_536
    public var commandTimeoutMilliseconds = 10_000
    public var commandAttempts = 3
    public var maxClockOffsetMilliseconds = 500
    public var clockPersistWindowMilliseconds = 2_000
    public var logLevel = "info"

    public init() {}

    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// Command-line flags, which override the file.
    public struct Overrides: Sendable, Equatable {
        public var site: String?
        public var node: String?
        public var broker: String?
        public var dataDirectory: String?
        public var admin: String?

        public init(site: String? = nil, node: String? = nil, broker: String? = nil, dataDirectory: String? = nil, admin: String? = nil) {
            self.site = site
            self.node = node
            self.broker = broker
            self.dataDirectory = dataDirectory
            self.admin = admin
        }
    }

    /// Reads `text` (the contents of `file`), applies `overrides`, and validates the result.
    /// Throws ``ConfigErrors`` listing every problem as `FILE:LINE: message`.
    public static func load(text: String?, file: String, overrides: Overrides = .init()) throws(ConfigErrors) -> EdgeConfiguration {
        let reader = ConfigReader(file: file)
        var config = EdgeConfiguration()
        var givenKeys: Set<String> = []
        if let text {
            guard let root = reader.root(of: text) else { throw ConfigErrors(problems: reader.problems) }
            givenKeys = Set(root.keys.compactMap(\.string))
            config.read(root, reader)
        }
        config.apply(overrides, reader)
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
            in: root, known: ["site", "node", "broker", "data_dir", "admin", "storage", "devices", "commands", "hlc", "log"],
            section: "the top level")
        site = reader.string(root, "site", validate: SegmentName.problem(with:)) ?? site
        node = reader.string(root, "node", validate: SegmentName.problem(with:)) ?? node
        dataDirectory = reader.string(root, "data_dir") ?? dataDirectory
        if let broker = reader.section(root, "broker") {
            reader.rejectUnknownKeys(
                in: broker, known: ["url", "client_id", "username", "password_file", "ca_file", "cert_file", "key_file", "send_maximum"],
                section: "broker")
            if let url = reader.string(broker, "url", validate: { Self.parseMQTTURL($0).problem }) {
                (self.broker.host, self.broker.port) = Self.parseMQTTURL(url).endpoint!
            }
            self.broker.clientID = reader.string(broker, "client_id")
            self.broker.username = reader.string(broker, "username")
            self.broker.passwordFile = reader.string(broker, "password_file")
            self.broker.caFile = reader.string(broker, "ca_file")
            self.broker.certFile = reader.string(broker, "cert_file")
            self.broker.keyFile = reader.string(broker, "key_file")
            self.broker.sendMaximum = reader.integer(broker, "send_maximum", in: 1...65_535) ?? self.broker.sendMaximum
        }
        if let admin = reader.section(root, "admin") {
            reader.rejectUnknownKeys(in: admin, known: ["listen"], section: "admin")
            if let listen = reader.string(admin, "listen", validate: { Self.parseHostPort($0).problem }) {
                (adminHost, adminPort) = Self.parseHostPort(listen).endpoint!
            }
        }
        if let storage = reader.section(root, "storage") {
            reader.rejectUnknownKeys(in: storage, known: ["flush_interval_ms", "raw_retention_per_device"], section: "storage")
            flushIntervalMilliseconds = reader.integer(storage, "flush_interval_ms", in: 1...60_000) ?? flushIntervalMilliseconds
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
            reader.rejectUnknownKeys(in: hlc, known: ["max_offset_ms", "persist_window_ms"], section: "hlc")
            maxClockOffsetMilliseconds = reader.integer(hlc, "max_offset_ms", in: 1...3_600_000) ?? maxClockOffsetMilliseconds
            clockPersistWindowMilliseconds = reader.integer(hlc, "persist_window_ms", in: 100...600_000) ?? clockPersistWindowMilliseconds
        }
        if let log = reader.section(root, "log") {
            reader.rejectUnknownKeys(in: log, known: ["level"], section: "log")
            logLevel = reader.string(log, "level", validate: {
                Self.logLevels.contains($0) ? nil : "must be one of \(Self.logLevels.joined(separator: ", "))"
            }) ?? logLevel
        }
    }

    private mutating func apply(_ overrides: Overrides, _ reader: ConfigReader) {
        if let value = overrides.site {
            if let problem = SegmentName.problem(with: value) { reader.report(line: 0, "--site: \(problem)") } else { site = value }
        }
        if let value = overrides.node {
            if let problem = SegmentName.problem(with: value) { reader.report(line: 0, "--node: \(problem)") } else { node = value }
        }
        if let value = overrides.broker {
            let parsed = Self.parseMQTTURL(value)
            if let problem = parsed.problem { reader.report(line: 0, "--broker: \(problem)") } else { (broker.host, broker.port) = parsed.endpoint! }
        }
        if let value = overrides.dataDirectory { dataDirectory = value }
        if let value = overrides.admin {
            let parsed = Self.parseHostPort(value)
            if let problem = parsed.problem { reader.report(line: 0, "--admin: \(problem)") } else { (adminHost, adminPort) = parsed.endpoint! }
        }
    }

    private func validate(_ reader: ConfigReader, siteGiven: Bool, nodeGiven: Bool) {
        if !siteGiven { reader.report(line: 1, "`site` is required (or pass --site): the site id, e.g. plant-1") }
        if !nodeGiven { reader.report(line: 1, "`node` is required (or pass --node): this node's name, e.g. edge-a") }
        if (broker.certFile == nil) != (broker.keyFile == nil) {
            reader.report(line: 1, "broker `cert_file` and `key_file` go together: set both for a client certificate, or neither")
        }
    }

    /// `mqtt://HOST:PORT`, parsed by FoglineMQTT's ``BrokerAddress``.
    static func parseMQTTURL(_ text: String) -> (endpoint: (String, Int)?, problem: String?) {
        do {
            let address = try BrokerAddress(parsing: text)
            return ((address.host, address.port), nil)
        } catch {
            return (nil, error.description)
        }
    }

    /// `HOST:PORT` with an optional default port; IPv6 hosts in brackets.
    static func parseHostPort(_ text: String, defaultPort: Int? = nil) -> (endpoint: (String, Int)?, problem: String?) {
        var host = Substring(text)
        var portText: Substring?
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let after = host[host.index(after: close)...]
            portText = after.hasPrefix(":") ? after.dropFirst() : nil
            host = host[host.index(after: host.startIndex)..<close]
        } else if let colon = host.lastIndex(of: ":") {
            portText = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        guard !host.isEmpty else { return (nil, "`\(text)` has no host; write HOST:PORT, e.g. 127.0.0.1:8080") }
        if portText == nil && defaultPort == nil {
            return (nil, "`\(text)` needs a port: write HOST:PORT, e.g. 127.0.0.1:8080")
        }
        let port = portText.map { Int($0) } ?? defaultPort
        guard let port, (1...65_535).contains(port) else {
            return (nil, "`\(text)` has an invalid port; use 1–65535")
        }
        return ((String(host), port), nil)
    }
}
