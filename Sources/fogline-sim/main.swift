// fogline-sim: argument parsing and start-up only; the engine is FoglineSim.Simulation and the
// MQTT transport FoglineSim.SimMQTTDriver.

import ArgumentParser
import Dispatch
import FoglineConfig
import FoglineSim
import Foundation
import Logging

@main
struct FoglineSimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fogline-sim",
        abstract: "Simulate a plant of MQTT devices against a Fogline site broker.",
        discussion: """
            Example: fogline-sim --broker mqtt://127.0.0.1:1883 --site plant-1 \\
                       --profile devices/thermostat.yaml --profile devices/valve.yaml --count 25 --duration 60
            Faults (repeatable): disconnect=P, skew=SECONDS, duplicate=P, malformed=P, burst=MULTIPLIER:SECONDS, gap=P
            """)

    @Option(help: "Site broker, mqtt://HOST:PORT (mqtts://HOST:PORT for TLS).") var broker = "mqtt://127.0.0.1:1883"
    @Option(
        help: ArgumentHelp(
            "Device credentials file (USERNAME PASSWORD per line, from `fogline-edge provision`): each device logs in as its id.",
            valueName: "file"))
    var credentials: String?
    @Option(name: .customLong("ca-file"), help: "PEM CA of the broker's certificate; turns TLS on.") var caFile: String?
    @Option(name: .customLong("cert-file"), help: "PEM client certificate (with --key-file), if the broker asks for one.") var certFile: String?
    @Option(name: .customLong("key-file"), help: "PEM key of --cert-file.") var keyFile: String?
    @Option(help: "Site id.") var site = "plant-1"
    @Option(name: .customLong("profile"), help: "Device profile YAML (repeatable), e.g. devices/thermostat.yaml.")
    var profiles: [String] = []
    @Option(help: "Devices per profile.") var count = 10
    @Option(help: "Telemetry rate per device in Hz (overrides the profiles).") var rate: Double?
    @Option(help: "Random seed: the same seed gives the same run.") var seed: UInt64 = 1
    @Option(help: "Stop after this many seconds (default: until Ctrl-C).") var duration: Double?
    @Option(name: .customLong("fault"), help: "Fault to inject (repeatable).") var faults: [String] = []
    @Option(
        name: .customLong("await-edge"),
        help: ArgumentHelp(
            "After each (re)connect, wait up to this many seconds for an edge node's online status before the birth (0: do not wait).",
            discussion: "Devices subscribe to fogline/v1/{site}/node/+/status; an edge announces online only once it has subscribed, so births are not lost while it reconnects.",
            valueName: "seconds"))
    var awaitEdge: Double = 5
    @Option(
        help: ArgumentHelp(
            "After --duration, stay connected this many seconds without new readings, answering the edge's replay requests for the last gaps.",
            valueName: "seconds"))
    var linger: Double = 1
    @Option(help: "Write a JSON report (per device: messages published, last seq, …) to this file.") var report: String?

    func run() throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "fogline.sim")
        guard !profiles.isEmpty else { throw ValidationError("Give at least one --profile, e.g. --profile devices/thermostat.yaml.") }
        guard count > 0 else { throw ValidationError("--count must be at least 1.") }
        guard awaitEdge >= 0, awaitEdge * 1_000 <= Double(Simulation.maxAwaitEdgeMillis) else {
            throw ValidationError("--await-edge must be 0 to \(Simulation.maxAwaitEdgeMillis / 1_000) seconds, got \(awaitEdge).")
        }
        guard linger >= 0, linger * 1_000 <= Double(Simulation.maxAwaitEdgeMillis) else {
            throw ValidationError("--linger must be 0 to \(Simulation.maxAwaitEdgeMillis / 1_000) seconds, got \(linger).")
        }
        let loaded = try profiles.map { path in
            do { return (profile: try Profile.load(path: path), count: count) } catch { throw ValidationError("\(error)") }
        }
        let plan: FaultPlan
        do { plan = try FaultPlan.parse(faults) } catch { throw ValidationError("\(error)") }
        let simulation: Simulation
        do {
            simulation = try Simulation(
                profiles: loaded, site: site, seed: seed, rateOverride: rate, faults: plan,
                durationMillis: duration.map { Int64($0 * 1_000) }, awaitEdgeMillis: Int64((awaitEdge * 1_000).rounded()),
                lingerMillis: Int64((linger * 1_000).rounded()))
        } catch { throw ValidationError("\(error)") }
        guard (certFile == nil) == (keyFile == nil) else { throw ValidationError("--cert-file and --key-file go together: give both or neither.") }
        var security = SimBrokerSecurity(caFile: caFile, certFile: certFile, keyFile: keyFile)
        if let credentials {
            do { security.passwords = try DeviceCredentials.read(path: credentials).passwords } catch {
                throw ValidationError("--credentials: \(error)")
            }
            let missing = security.devicesWithoutPassword(in: simulation)
            guard missing.isEmpty else {
                throw ValidationError(
                    "--credentials: \(credentials) has no password for \(missing.count) simulated devices (\(missing.prefix(3).joined(separator: ", "))\(missing.count > 3 ? ", …" : "")); add them to the devices file and run `fogline-edge provision` again.")
            }
        }
        let driver: SimMQTTDriver
        do { driver = try SimMQTTDriver(simulation: simulation, brokerURL: broker, security: security, logger: logger) } catch {
            throw ValidationError("--broker: \(error)")
        }
        let signals = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { driver.requestStop() }
            source.resume()
            return source
        }
        logger.info("simulating \(simulation.devices.count) devices against \(broker), site \(site), seed \(seed)")
        let result = try driver.run()
        signals.forEach { $0.cancel() }
        print(result.summaryTable())
        if let report {
            do { try result.json().write(toFile: report, atomically: true, encoding: .utf8) } catch {
                throw ValidationError("Cannot write the report to \(report): \(error.localizedDescription)")
            }
        }
    }
}
