public import FoglineConfig
public import Crypto
import FoglineMQTT
import FoglineWire
import Foundation
import Yams

/// Everything `fogline-cloud serve` needs, from a YAML file (edge-config/cloud.yaml documents
/// every key) with command-line flags on top. Secrets are never values here, and never flags: only
/// where to read them (``SecretSource``: a `*_file` setting, or a `FOGLINE_…` environment variable).
public struct CloudConfiguration: Sendable {
    /// Where the merged state lives.
    public enum Database: Sendable, Equatable {
        /// `sqlite:PATH`: one file, one machine (the default).
        case sqlite(path: String)
        /// `postgres://…`: shared by several instances.
        case postgres(url: String)
    }

    /// The cloud broker (`broker:` in the file).
    public struct Broker: Sendable, Equatable {
        public var url = "mqtt://127.0.0.1:1884"
        public var clientID: String?
        public var username: String?
        /// File whose first line is the broker password.
        public var passwordFile: String?
        /// Where the password is read from: `FOGLINE_BROKER_PASSWORD` when set, else `password_file`.
        public var password: SecretSource?
        public var caFile: String?
        public var certFile: String?
        public var keyFile: String?
        /// Subscribe through `$share/fogline-cloud/…` so several instances split the frames.
        public var sharedSubscription = true
        /// The longest wait between attempts to reach the broker while it is down: short, so
        /// that sites catch up soon after it returns.
        public var reconnectMaxSeconds = 5
    }

    /// This instance's name: the writer of its `desired` writes (`cloud.<instance>`) and part of
    /// its MQTT client id. Two running instances must never share one.
    public var instance: String
    public var httpHost = "127.0.0.1"
    public var httpPort = 8_480
    /// `http.token_file`: file whose first line is the HTTP API's bearer token.
    public var httpTokenFile: String?
    /// Where the API token is read from: `FOGLINE_API_TOKEN` when set, else `http.token_file`. With
    /// a token every route but `/healthz` requires `Authorization: Bearer`; without one the API
    /// must listen on loopback.
    public var apiToken: SecretSource?
    public var database = Database.sqlite(path: "./fogline-cloud.sqlite")
    /// The PostgreSQL schema holding the tables.
    public var postgresSchema = "public"
    public var broker = Broker()
    /// Largest payload of one batch part sent to an edge.
    public var maxPartBytes = 256 << 10
    /// Entries per batch sent to an edge.
    public var maxBatchEntries = 5_000
    /// Accept unsigned frames from any node (demos only).
    public var acceptUnsigned = false
    /// Each site's nodes and their Ed25519 public keys.
    public var nodeKeys: [String: [String: Curve25519.Signing.PublicKey]] = [:]
    public var logLevel = "info"

    public init(instance: String = CloudConfiguration.defaultInstanceName()) {
        self.instance = instance
    }

    /// `HOSTNAME-xxxxxxxx` (8 random hex digits), so that two processes never share a writer.
    public static func defaultInstanceName() -> String {
        var host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "cloud"
        host = String(host.unicodeScalars.filter { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_") })
        if host.isEmpty { host = "cloud" }
        let digits = Array("0123456789abcdef")
        var random = SystemRandomNumberGenerator()
        return "\(host.prefix(40))-" + String((0..<8).map { _ in digits[Int(random.next() % 16)] })
    }

    /// Command-line flags, which override the file.
    public struct Overrides: Sendable, Equatable {
        public var broker: String?
        public var http: String?
        public var database: String?
        public var instance: String?

        public init(broker: String? = nil, http: String? = nil, database: String? = nil, instance: String? = nil) {
            self.broker = broker
            self.http = http
            self.database = database
            self.instance = instance
        }
    }

    /// The environment variables that hold secrets.
    public enum SecretVariable {
        public static let brokerPassword = "FOGLINE_BROKER_PASSWORD"
        public static let apiToken = "FOGLINE_API_TOKEN"
        /// The database URL, which may carry the PostgreSQL password (replaces `database`).
        public static let databaseURL = "FOGLINE_DATABASE_URL"
    }

    /// Reads `text` (the contents of `file`; nil: no file), applies `overrides`, takes secrets from
    /// the `FOGLINE_…` variables of `environment` where set, and validates.
    /// Throws ``ConfigErrors`` listing every problem as `FILE:LINE: message`.
    public static func load(
        text: String?, file: String, overrides: Overrides = .init(), environment: [String: String] = [:]
    ) throws(ConfigErrors) -> CloudConfiguration {
        let reader = ConfigReader(file: file, exampleKeys: "broker:, http:, database:, sites:")
        var config = CloudConfiguration()
        if let text {
            guard let root = reader.root(of: text) else { throw ConfigErrors(problems: reader.problems) }
            config.read(root, reader)
        }
        if let url = environment[SecretVariable.databaseURL], !url.isEmpty {
            if let database = Self.database(url) { config.database = database } else {
                reader.report(line: 0, "\(SecretVariable.databaseURL) must be sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DB")
            }
        }
        config.apply(overrides, reader)
        config.broker.password = SecretSource.resolve(
            file: config.broker.passwordFile, variable: SecretVariable.brokerPassword, environment: environment)
        config.apiToken = SecretSource.resolve(file: config.httpTokenFile, variable: SecretVariable.apiToken, environment: environment)
        if let problem = ListenAddress.tokenProblem(
            api: "the API", section: "http", host: config.httpHost, port: config.httpPort, hasToken: config.apiToken != nil,
            variable: SecretVariable.apiToken)
        {
            reader.report(line: 0, problem)
        }
        guard reader.problems.isEmpty else { throw ConfigErrors(problems: reader.problems) }
        return config
    }

    /// The API's bearer token, when one is configured.
    public func bearerToken() throws -> BearerToken? {
        try BearerToken.read(from: apiToken, name: "the API token")
    }

    /// The MQTT client settings: MQTT 5 (shared subscriptions need it), this instance's client id.
    func mqttConfiguration() throws -> MQTTClientConfiguration {
        var mqtt = try MQTTClientConfiguration(brokerURL: broker.url, clientID: broker.clientID ?? "fogline-cloud-\(instance)")
        mqtt.protocolVersion = .v5
        mqtt.reconnectBackoff.maximumDelay = .seconds(broker.reconnectMaxSeconds)
        mqtt.username = broker.username
        if let password = broker.password { mqtt.password = try password.text() }
        if broker.caFile != nil || broker.certFile != nil {
            var tls = mqtt.tls ?? MQTTTLSConfiguration()
            tls.caFile = broker.caFile
            tls.certFile = broker.certFile
            tls.keyFile = broker.keyFile
            mqtt.tls = tls
        }
        return mqtt
    }

    /// The subscription for every node's `up` topic.
    public var upFilter: String {
        broker.sharedSubscription ? "$share/fogline-cloud/fogline/v1/sync/+/+/up" : "fogline/v1/sync/+/+/up"
    }

    // MARK: Reading

    static let rootKeys = ["instance", "http", "database", "postgres_schema", "broker", "sync", "sites", "log_level"]

    private mutating func read(_ root: Node.Mapping, _ reader: ConfigReader) {
        reader.rejectUnknownKeys(in: root, known: Self.rootKeys, section: "the file")
        if let name = reader.string(root, "instance", validate: Self.nameProblem) { instance = name }
        if let http = reader.section(root, "http") {
            reader.rejectUnknownKeys(in: http, known: ["listen", "token_file"], section: "`http`")
            httpTokenFile = reader.string(http, "token_file") ?? httpTokenFile
            if let endpoint = reader.string(http, "listen", as: { HostPort.endpoint($0) }) { (httpHost, httpPort) = endpoint }
        }
        if let node = root["database"], let text = reader.string(root, "database") {
            if let database = Self.database(text) { self.database = database } else {
                reader.report(node, "`database` must be sqlite:PATH or postgres://USER@HOST:PORT/DB, got `\(text)`")
            }
        }
        // The rule the PostgreSQL store applies when it opens, so check-config finds what serve would.
        if let schema = reader.string(root, "postgres_schema", validate: {
            SQLDialect.isPlainIdentifier($0) ? nil : "must be a letter or '_' followed by letters, digits and '_', at most 63 characters"
        }) { postgresSchema = schema }
        if let section = reader.section(root, "broker") {
            reader.rejectUnknownKeys(
                in: section, known: [
                    "url", "client_id", "username", "password_file", "ca_file", "cert_file", "key_file", "shared_subscription",
                    "reconnect_max_s",
                ],
                section: "`broker`")
            broker.url = reader.string(section, "url", as: Self.brokerURL) ?? broker.url
            broker.clientID = reader.string(section, "client_id") ?? broker.clientID
            broker.username = reader.string(section, "username") ?? broker.username
            broker.passwordFile = reader.string(section, "password_file") ?? broker.passwordFile
            broker.caFile = reader.string(section, "ca_file") ?? broker.caFile
            broker.certFile = reader.string(section, "cert_file") ?? broker.certFile
            broker.keyFile = reader.string(section, "key_file") ?? broker.keyFile
            broker.sharedSubscription = reader.bool(section, "shared_subscription") ?? broker.sharedSubscription
            broker.reconnectMaxSeconds = reader.integer(section, "reconnect_max_s", in: 1...3_600) ?? broker.reconnectMaxSeconds
            if (broker.certFile == nil) != (broker.keyFile == nil), let key = section["cert_file"] ?? section["key_file"] {
                reader.report(key, "`cert_file` and `key_file` go together: set both for a client certificate, or neither")
            }
        }
        if let sync = reader.section(root, "sync") {
            reader.rejectUnknownKeys(in: sync, known: ["max_part_bytes", "max_batch_entries", "accept_unsigned"], section: "`sync`")
            maxPartBytes = reader.integer(sync, "max_part_bytes", in: 1_024...(64 << 20)) ?? maxPartBytes
            maxBatchEntries = reader.integer(sync, "max_batch_entries", in: 1...1_000_000) ?? maxBatchEntries
            acceptUnsigned = reader.bool(sync, "accept_unsigned") ?? acceptUnsigned
        }
        if let sites = reader.section(root, "sites") { readSites(sites, reader) }
        if let level = reader.logLevel(root, "log_level") { logLevel = level }
    }

    /// `sites: {SITE: {nodes: {NODE: BASE64_PUBLIC_KEY}}}`.
    private mutating func readSites(_ sites: Node.Mapping, _ reader: ConfigReader) {
        for (siteNode, value) in sites {
            guard let site = siteNode.string else { continue }
            if let problem = SegmentName.siteProblem(with: site) {
                reader.report(siteNode, "site `\(site)`: \(problem)")
                continue
            }
            guard let siteSection = value.mapping else {
                reader.report(value, "site `\(site)` must be a mapping with `nodes:`")
                continue
            }
            reader.rejectUnknownKeys(in: siteSection, known: ["nodes"], section: "site `\(site)`")
            var keys: [String: Curve25519.Signing.PublicKey] = [:]
            for (nodeNode, keyNode) in reader.section(siteSection, "nodes") ?? Node.Mapping([]) {
                guard let node = nodeNode.string else { continue }
                if let problem = SegmentName.problem(with: node) {
                    reader.report(nodeNode, "node `\(node)` of site `\(site)`: \(problem)")
                    continue
                }
                guard let text = keyNode.string, let key = try? SigningKeyText.publicKey(text) else {
                    reader.report(keyNode, "the key of node `\(node)` (site `\(site)`) must be the base64 of its 32-byte Ed25519 public key")
                    continue
                }
                keys[node] = key
            }
            nodeKeys[site] = keys
        }
    }

    private mutating func apply(_ overrides: Overrides, _ reader: ConfigReader) {
        broker.url = reader.flag("--broker", overrides.broker, as: Self.brokerURL) ?? broker.url
        if let endpoint = reader.flag("--http", overrides.http, as: { HostPort.endpoint($0) }) { (httpHost, httpPort) = endpoint }
        if let text = overrides.database {
            if case .postgres(let url)? = Self.database(text), URLComponents(string: url)?.password != nil {
                reader.report(line: 0, "--db must not carry a password (other users can read command lines): put the URL in \(SecretVariable.databaseURL) or in the configuration file's `database`")
            } else if let database = Self.database(text) { self.database = database } else {
                reader.report(line: 0, "--db must be sqlite:PATH or postgres://USER@HOST:PORT/DB, got `\(text)`")
            }
        }
        if let name = overrides.instance {
            if let problem = Self.nameProblem(name) { reader.report(line: 0, "--instance: \(problem)") } else { instance = name }
        }
    }

    static func nameProblem(_ name: String) -> String? {
        // The writer name `cloud.<instance>` and the client id must stay topic-segment safe.
        SegmentName.isValid(name) && name.utf8.count <= 48 ? nil : "must be 1 to 48 characters of A-Z, a-z, 0-9, '_', '.' and '-'"
    }

    /// A broker URL the MQTT client accepts (`mqtt://HOST:PORT`, `mqtts://HOST:PORT`), or why not.
    static func brokerURL(_ text: String) -> Result<String, ValueProblem> {
        ValueProblem.catching {
            _ = try BrokerAddress(parsing: text)
            return text
        }
    }

    static func database(_ text: String) -> Database? {
        if text.hasPrefix("sqlite:") {
            let path = String(text.dropFirst("sqlite:".count))
            return path.isEmpty ? nil : .sqlite(path: path)
        }
        if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") { return .postgres(url: text) }
        return nil
    }
}
