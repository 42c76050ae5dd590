// fogline-edge: argument parsing and start-up only; the daemon is FoglineEdge.EdgeNode.

import ArgumentParser
import Dispatch
import FoglineConfig
import FoglineEdge
import FoglineWire
import Foundation
import Logging

// Top-level entry rather than `@main` (a file named main.swift is top-level code, where `@main` is
// not allowed). The call sits in an async function so that `main()` resolves to
// AsyncParsableCommand's async entry point (from top-level code it resolves to ParsableCommand's
// synchronous one).
func runCommand() async { await FoglineEdgeCommand.main() }
// Before any thread starts.
ResidentMemory.configureMalloc()
// What the loader and the libraries' initializers ran and read is not needed again.
ResidentMemory.trim()
await runCommand()

struct FoglineEdgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fogline-edge",
        abstract: "The Fogline edge node daemon and its tools.",
        subcommands: [Run.self, CheckConfig.self, Status.self, KeyValue.self, Lease.self, KeyGen.self, Provision.self])
}

/// Flags shared by the commands that read a configuration.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "YAML configuration file (see edge-config/).")
    var config: String?
    @Option(name: .long, help: "Site id; overrides `site`.")
    var site: String?
    @Option(name: .long, help: "This node's name; overrides `node`.")
    var node: String?
    @Option(name: .long, help: "Site broker, mqtt://HOST:PORT; overrides `broker.url`.")
    var broker: String?
    @Option(name: .long, help: "Data directory; overrides `data_dir`.")
    var data: String?
    @Option(name: .long, help: "Admin API address HOST:PORT; overrides `admin.listen`.")
    var admin: String?
    @Option(name: .long, help: "Peer listener HOST:PORT for the site's other nodes; overrides `quorum.listen`.")
    var listen: String?
    @Option(name: .customLong("peer"), help: "Another node of the site, NODE=HOST:PORT (repeatable); replaces `quorum.peers`.")
    var peers: [String] = []
    @Option(name: .customLong("site-key-file"), help: "File holding the site's shared peer key; overrides `quorum.site_key_file`.")
    var siteKeyFile: String?
    @Option(name: .long, help: "The aggregator's broker, mqtt://HOST:PORT; overrides `cloud.broker.url`.")
    var cloud: String?

    func load() throws -> EdgeConfiguration {
        let text = try ConfigFile.text(at: config)
        return try EdgeConfiguration.load(
            text: text, file: config ?? "(flags)",
            overrides: .init(
                site: site, node: node, broker: broker, dataDirectory: data, admin: admin, listen: listen, peers: peers,
                siteKeyFile: siteKeyFile, cloud: cloud),
            environment: ProcessInfo.processInfo.environment)
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the edge node until SIGTERM or SIGINT.")
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        // Argument parsing is done with.
        ResidentMemory.trim()
        let configuration: EdgeConfiguration
        do { configuration = try options.load() } catch let errors as ConfigErrors {
            FileHandle.standardError.write(Data((errors.description + "\n").utf8))
            throw ExitCode(1)
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: configuration.logLevel) ?? .info
            return handler
        }
        let logger = Logger(label: "fogline.edge")
        // The configuration is done with; then the store's migrations.
        ResidentMemory.trim()
        let node = try EdgeNode(configuration: configuration, logger: logger)
        ResidentMemory.trim()
        let notifier = SystemdNotifier(environment: ProcessInfo.processInfo.environment)
        let running = Task { try await node.run(notifier: notifier) }
        var signals = [SIGTERM, SIGINT].map { signalNumber in
            Self.handle(signalNumber) { running.cancel() }
        }
        // SIGHUP (systemctl reload): read the configuration again and apply its device settings.
        signals.append(Self.handle(SIGHUP) { [options] in
            Task { await Self.reload(node, options: options, notifier: notifier, logger: logger) }
        })
        let trimming = Task { await ResidentMemory.trimPeriodically() }
        try await running.value
        trimming.cancel()
        signals.forEach { $0.cancel() }
    }

    private static func handle(_ signalNumber: Int32, _ handler: @escaping @Sendable () -> Void) -> any DispatchSourceSignal {
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .main)
        source.setEventHandler(handler: handler)
        source.resume()
        return source
    }

    /// Reloads the device settings; a configuration with problems is reported and changes nothing.
    private static func reload(_ node: EdgeNode, options: ConfigOptions, notifier: SystemdNotifier?, logger: Logger) async {
        notifier?.notify("RELOADING=1\nSTATUS=reloading the configuration")
        do {
            await node.reload(try options.load())
        } catch let errors as ConfigErrors {
            logger.error("reload refused: the configuration has problems; the node keeps its settings. Fix them (`fogline-edge check-config --config FILE` lists them all) and reload again", metadata: [
                "problems": "\(errors.description)",
            ])
        } catch {
            logger.error("reload refused; the node keeps its settings. Check that the configuration file is readable, then reload again", metadata: ["error": "\(error)"])
        }
        notifier?.notify("READY=1\nSTATUS=serving")
    }
}

struct KeyGen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Write a new Ed25519 signing key for the cloud uplink; print its public key for the aggregator's config.")
    @Option(name: .long, help: "File to write the private key to (refuses to overwrite one).")
    var out: String

    func run() async throws {
        guard !FileManager.default.fileExists(atPath: out) else {
            throw ValidationError("\(out) exists already; remove it first if you mean to replace this node's key.")
        }
        let publicKey: String
        do { publicKey = try SigningKeyFile.create(at: out) } catch {
            throw ValidationError("Cannot create the key: \(error)")
        }
        print(publicKey)
    }
}

struct Provision: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the site broker's Mosquitto password file and ACL, and the credentials of its nodes and devices.",
        discussion: """
            Each device may publish only its own uplink topics and subscribe only to its own downlink \
            topics; edge nodes get what they need. Files in --out: mosquitto.passwd and mosquitto.acl \
            (for the broker's password_file and acl_file), devices.credentials (0600: USERNAME PASSWORD \
            per device, for the devices or fogline-sim --credentials) and NODE.password (0600: each \
            node's broker.password_file). Passwords already in --out are kept; no password is printed.
            """)
    @Option(name: .long, help: "File of device ids, one per line (# comments).")
    var devices: String
    @Option(name: .long, help: "Directory to write the files into (created if missing).")
    var out: String
    @Option(name: .long, help: "Edge configuration: its site, node and quorum.peers give the site and the nodes.")
    var config: String?
    @Option(name: .long, help: "Site id (overrides the configuration's).")
    var site: String?
    @Option(name: .customLong("node"), help: "An edge node of the site (repeatable; added to the configuration's).")
    var nodes: [String] = []

    func run() async throws {
        let (siteName, nodeNames) = try siteAndNodes()
        var random = SystemRandomNumberGenerator()
        let provisioning = try plan(site: siteName, nodes: nodeNames, random: &random)
        let written: [String]
        do { written = try provisioning.write(to: out, random: &random) } catch { throw ValidationError(error.description) }
        let kept = provisioning.passwords.count - provisioning.generated
        print("site \(siteName): \(provisioning.nodes.count) nodes, \(provisioning.devices.count) devices; \(provisioning.generated) new passwords, \(kept) kept")
        for path in written { print("wrote \(path)") }
    }

    /// The site and its nodes, from the flags and the configuration file.
    private func siteAndNodes() throws -> (String, [String]) {
        var siteName = site
        var nodeNames = nodes
        let text: String?
        do { text = try ConfigFile.text(at: config) } catch { throw printed(error) }
        if let text, let config {
            let loaded: EdgeConfiguration
            do {
                loaded = try EdgeConfiguration.load(text: text, file: config, environment: ProcessInfo.processInfo.environment)
            } catch { throw printed(error) }
            siteName = siteName ?? loaded.site
            nodeNames += [loaded.node] + loaded.quorum.peers.keys.sorted()
        }
        guard let siteName else { throw ValidationError("Give --site SITE or --config FILE to name the site.") }
        return (siteName, nodeNames)
    }

    private func plan(site: String, nodes: [String], random: inout SystemRandomNumberGenerator) throws -> SiteProvisioning {
        let deviceIDs: [String]
        let existing: [String: String]
        do {
            deviceIDs = try SiteProvisioning.deviceList(try ConfigFile.text(at: devices, flag: "--devices", kind: "device list") ?? "", file: devices)
            existing = try SiteProvisioning.existingPasswords(in: out, nodes: nodes)
        } catch { throw printed(error) }
        do { return try SiteProvisioning(site: site, nodes: nodes, devices: deviceIDs, existing: existing, random: &random) } catch {
            throw ValidationError(error.description)
        }
    }

    /// Prints every located problem to standard error; exit status 1.
    private func printed(_ errors: ConfigErrors) -> ExitCode {
        FileHandle.standardError.write(Data((errors.description + "\n").utf8))
        return ExitCode(1)
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Check a configuration file; print every problem as FILE:LINE: message.")
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        do {
            let configuration = try options.load()
            print("\(options.config ?? "(flags)"): ok (site \(configuration.site), node \(configuration.node))")
        } catch let errors as ConfigErrors {
            print(errors.description)
            throw ExitCode(1)
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a running node's status (GET /v1/status).")
    @OptionGroup var admin: AdminOption

    func run() async throws { try admin.call("GET", "/v1/status") }
}

/// The admin API address and token shared by the client commands. The token never comes from a
/// flag (other users could read it in `ps`): from `FOGLINE_ADMIN_TOKEN` or `--token-file`.
struct AdminOption: ParsableArguments {
    @Option(name: .long, help: "Admin API of a node of the site (HOST:PORT).")
    var admin = "127.0.0.1:8080"
    @Option(name: .customLong("token-file"), help: "File whose first line is the admin token (default: $FOGLINE_ADMIN_TOKEN, if set).")
    var tokenFile: String?

    func client() throws -> PlainHTTPClient {
        var client: PlainHTTPClient
        do { client = try PlainHTTPClient(address: admin) } catch { throw ValidationError(error.description) }
        let environment = ProcessInfo.processInfo.environment
        // An explicit --token-file wins over the environment.
        let source = tokenFile.map(SecretSource.file)
            ?? SecretSource.resolve(file: nil, variable: EdgeConfiguration.SecretVariable.adminToken, environment: environment)
        if let source {
            do { client.token = try source.text(environment: environment) } catch { throw ValidationError(error.description) }
        }
        return client
    }

    /// Sends the request, prints the JSON answer, and fails (exit 1) unless it is a success.
    func call(_ method: String, _ path: String, body: JSONBody? = nil) throws {
        let client = try client()
        let response: PlainHTTPClient.Response
        do { response = try client.request(method: method, path: path, body: body.map { Array($0.text.utf8) }) } catch {
            throw ValidationError("Cannot reach the node's admin API at \(admin): \(error.description) Is fogline-edge running?")
        }
        print(response.text, terminator: "")
        guard (200..<300).contains(response.status) else { throw ExitCode(1) }
    }
}

/// A JSON request body built from flags (values are JSON-escaped).
struct JSONBody {
    var text: String

    init(_ members: [(String, String)]) {
        text = "{" + members.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    static func string(_ value: String) -> String {
        var escaped = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case _ where scalar.value < 0x20: escaped += String(format: "\\u%04x", scalar.value)
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped + "\""
    }
}

struct KeyValue: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kv", abstract: "Read or compare-and-set a key of the site's quorum store.",
        subcommands: [Get.self, CompareAndSet.self])

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a key's value and version (linearizable read).")
        @OptionGroup var admin: AdminOption
        @Argument(help: "The key, e.g. site/mode.") var key: String

        func run() throws { try admin.call("GET", "/v1/kv/\(key)") }
    }

    struct CompareAndSet: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cas", abstract: "Write a value if the key is still at the expected version (0: a new key).")
        @OptionGroup var admin: AdminOption
        @Argument(help: "The key, e.g. site/mode.") var key: String
        @Option(name: .customLong("expected-version"), help: "The version the key must have.") var expectedVersion: UInt64
        @Option(help: "The new value, as JSON (e.g. '{\"mode\":\"auto\"}' or '\"text\"').") var value: String

        func run() throws {
            try admin.call("POST", "/v1/kv/\(key)", body: JSONBody([("expected_version", "\(expectedVersion)"), ("value", value)]))
        }
    }
}

struct Lease: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Acquire, renew or release a lease; the answer carries the fencing token.",
        subcommands: [Acquire.self, Renew.self, Release.self])

    struct Acquire: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Acquire a lease (or renew it, by its holder).")
        @OptionGroup var admin: AdminOption
        @Argument(help: "The lease key, e.g. pump-room.") var key: String
        @Option(help: "Who holds it.") var holder: String
        @Option(name: .customLong("ttl-ms"), help: "Time to live in milliseconds.") var ttl: UInt64 = 10_000

        func run() throws {
            try admin.call("POST", "/v1/leases/\(key)/acquire", body: JSONBody([("holder", JSONBody.string(holder)), ("ttl_ms", "\(ttl)")]))
        }
    }

    struct Renew: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Renew a lease grant.")
        @OptionGroup var admin: AdminOption
        @Argument(help: "The lease key.") var key: String
        @Option(help: "Who holds it.") var holder: String
        @Option(help: "The fencing token of the grant.") var token: UInt64
        @Option(name: .customLong("ttl-ms"), help: "Time to live in milliseconds.") var ttl: UInt64 = 10_000

        func run() throws {
            try admin.call(
                "POST", "/v1/leases/\(key)/renew",
                body: JSONBody([("holder", JSONBody.string(holder)), ("token", "\(token)"), ("ttl_ms", "\(ttl)")]))
        }
    }

    struct Release: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Release a lease grant.")
        @OptionGroup var admin: AdminOption
        @Argument(help: "The lease key.") var key: String
        @Option(help: "Who holds it.") var holder: String
        @Option(help: "The fencing token of the grant.") var token: UInt64

        func run() throws {
            try admin.call("POST", "/v1/leases/\(key)/release", body: JSONBody([("holder", JSONBody.string(holder)), ("token", "\(token)")]))
        }
    }
}
