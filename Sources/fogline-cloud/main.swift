// fogline-cloud: argument parsing and start-up only; the aggregator is FoglineCloud.CloudServer.

import ArgumentParser
import FoglineCloud
import FoglineConfig
import FoglineDash
import Foundation
import Logging

// Top-level code calling the async entry point (as fogline-edge does): `main()` from top-level
// code would resolve to ParsableCommand's synchronous one.
func runCommand() async { await FoglineCloudCommand.main() }
await runCommand()

struct FoglineCloudCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fogline-cloud",
        abstract: "The Fogline cloud aggregator: sync ingest from edge sites and the cloud HTTP API.",
        subcommands: [Serve.self, CheckConfig.self, Dash.self])
}

/// Flags shared by the commands that read a configuration; they override the file.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "YAML configuration file (see edge-config/cloud.yaml).")
    var config: String?
    @Option(name: .long, help: "Cloud broker, mqtt://HOST:PORT; overrides `broker.url` (default mqtt://127.0.0.1:1884).")
    var broker: String?
    @Option(name: .long, help: "HTTP API address HOST:PORT; overrides `http.listen` (default 127.0.0.1:8480).")
    var http: String?
    @Option(name: .customLong("db"), help: "sqlite:PATH or postgres://…; overrides `database` (default sqlite:./fogline-cloud.sqlite).")
    var database: String?
    @Option(name: .long, help: "This instance's name (writer cloud.NAME); overrides `instance` (default HOSTNAME-<8 random hex>).")
    var instance: String?

    func load() throws -> CloudConfiguration {
        let text = try ConfigFile.text(at: config)
        return try CloudConfiguration.load(
            text: text, file: config ?? "(flags)",
            overrides: .init(broker: broker, http: http, database: database, instance: instance),
            environment: ProcessInfo.processInfo.environment)
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the aggregator until SIGTERM or SIGINT.")
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let configuration: CloudConfiguration
        do { configuration = try options.load() } catch let errors as ConfigErrors {
            FileHandle.standardError.write(Data((errors.description + "\n").utf8))
            throw ExitCode(1)
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: configuration.logLevel) ?? .info
            return handler
        }
        let logger = Logger(label: "fogline.cloud")
        let store: any CloudStore
        do { store = try await configuration.openStore(logger: logger) } catch {
            logger.critical("cannot open the database; check --db / `database` and that it is reachable", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        // SIGTERM and SIGINT shut the server down gracefully (its service group handles them).
        try await CloudServer(configuration: configuration, store: store, logger: logger).run(handleSignals: true)
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Check a configuration file; print every problem as FILE:LINE: message.")
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        do {
            let configuration = try options.load()
            print("\(options.config ?? "(flags)"): ok (instance \(configuration.instance), \(configuration.nodeKeys.count) sites)")
        } catch let errors as ConfigErrors {
            print(errors.description)
            throw ExitCode(1)
        }
    }
}

struct Dash: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The terminal dashboard: every site, node and device of an aggregator, over its HTTP API.",
        discussion: """
            Keys: arrows or j/k move, Enter opens, Esc goes back, / filters, s sorts, e edits a desired field \
            (FIELD=VALUE), a opens a site's audit pane, r refreshes, ? shows help, q quits. NO_COLOR turns colour off; \
            a locale that is not UTF-8 (or --ascii) draws with ASCII.
            """)

    @Option(name: .long, help: "The aggregator's HTTP API.")
    var url = "http://127.0.0.1:8480"
    @Flag(name: .long, help: "Print one frame as plain text and exit (1 when the aggregator did not answer).")
    var once = false
    @Option(name: .customLong("interval-ms"), help: "Refresh interval in milliseconds.")
    var intervalMilliseconds = 250
    @Flag(name: .long, help: "Draw with ASCII instead of Unicode box drawing.")
    var ascii = false
    @Option(name: .long, help: "Frame size WIDTHxHEIGHT for --once (default: the terminal's, or 80x24).")
    var size: String?
    @Option(name: .long, help: "Open this site at start.")
    var site: String?
    @Option(name: .long, help: "Open this device of --site at start.")
    var device: String?
    @Flag(name: .long, help: "Open the audit pane of --site at start.")
    var audit = false
    @Option(name: .customLong("token-file"), help: "File whose first line is the aggregator's API token (default: $FOGLINE_API_TOKEN, if set).")
    var tokenFile: String?

    func validate() throws {
        if device != nil || audit, site == nil { throw ValidationError("--device and --audit need --site SITE") }
        if let size, TerminalSize(parsing: size) == nil { throw ValidationError("--size \(size) is not WIDTHxHEIGHT, e.g. 120x40") }
        guard (50...60_000).contains(intervalMilliseconds) else {
            throw ValidationError("--interval-ms \(intervalMilliseconds) is out of range: use 50 to 60000 (default 250)")
        }
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let locale = ["LC_ALL", "LC_CTYPE", "LANG"].lazy.compactMap { environment[$0] }.first { !$0.isEmpty } ?? ""
        let utf8 = locale.lowercased().contains("utf-8") || locale.lowercased().contains("utf8")
        // The token never comes from a flag (other users could read it in `ps`).
        let tokenSource = tokenFile.map(SecretSource.file)
            ?? SecretSource.resolve(file: nil, variable: CloudConfiguration.SecretVariable.apiToken, environment: environment)
        var token: String?
        if let tokenSource {
            do { token = try tokenSource.text(environment: environment) } catch { throw ValidationError(error.description) }
        }
        let options = DashOptions(
            url: url, intervalMilliseconds: intervalMilliseconds, ascii: ascii || !utf8,
            colour: (environment["NO_COLOR"] ?? "").isEmpty, site: site, device: device, audit: audit, token: token)
        do {
            if once {
                let frameSize = size.flatMap(TerminalSize.init(parsing:)) ?? DashApp.terminalSize ?? .minimum
                let (text, reachable) = try DashApp.once(options, size: frameSize)
                print(text, terminator: "")
                if !reachable { throw ExitCode(1) }
            } else {
                try DashApp.run(options)
            }
        } catch let error as DashDataError {
            throw ValidationError(error.description)
        }
    }
}
