import FoglineTesting
import FoglineWire
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// 5,000 simulated devices (1,000 of each profile) in one `fogline-sim` process against a real
/// Mosquitto and `fogline-edge`: every birth is registered and every reading stored once.
@Suite("fogline-sim at 5,000 devices → fogline-edge")
final class SimulatorScaleProcessTests {
    static let profiles = ["thermostat", "power_meter", "valve", "door_sensor", "air_quality"]
    static let perProfile = 1_000

    let site: EdgeUnderTest
    var admin: AdminClient { AdminClient(port: site.adminPort) }

    init() throws {
        // Mosquitto holds one descriptor per client: raise this process's soft limit to its hard
        // limit before the broker is spawned, so the broker inherits it.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        let needed = rlim_t(Self.profiles.count * Self.perProfile + 512)
        try #require(limit.rlim_cur >= needed, "RLIMIT_NOFILE \(limit.rlim_cur) is below the \(needed) the broker needs; raise the hard limit (ulimit -Hn)")
        site = try EdgeUnderTest()
        try site.startEdge()
    }

    func metric(_ name: String) throws -> Double? {
        try HTTPTestClient.metric(port: site.adminPort, name)
    }

    @Test(
        "5,000 devices: every birth registered, stored readings equal the report",
        .timeLimit(.minutes(5)))
    func fiveThousandDevices() throws {
        // An independent subscriber on the same broker counts the births, to tell a message the
        // broker never delivered from one the edge lost. A probe it receives shows it is subscribed.
        let births = site.directory.appendingPathComponent("births.txt")
        let subscriber = try ChildProcess(
            path: "/usr/bin/mosquitto_sub", arguments: ["-p", "\(site.broker.port)", "-q", "1", "-t", "fogline/v1/plant-1/dev/+/birth"],
            output: births.path)
        defer { subscriber.stop(signal: SIGKILL) }
        func birthLines(probes: Bool = false) -> Int {
            ((try? String(contentsOf: births, encoding: .utf8)) ?? "").split(separator: "\n")
                .filter { $0.contains("profile") && $0.contains(#""probe""#) == probes }.count
        }
        try waitUntil("the birth subscriber to see a probe") {
            try ProgramProcess.run("/usr/bin/mosquitto_pub", [
                "-p", "\(site.broker.port)", "-q", "1", "-t", "fogline/v1/plant-1/dev/probe/birth", "-m", #"{"profile":"probe"}"#,
            ])
            return birthLines(probes: true) > 0
        }
        // A low rate: the point is 5,000 connections and births, not throughput (0.2 Hz lost
        // messages too: the births and reported of the connect burst are what the edge drops).
        let sim = try SimulatorProcess(
            broker: site.broker, directory: site.directory,
            arguments: SimulatorProcess.profiles(Self.profiles[0], Self.profiles[1], Self.profiles[2], Self.profiles[3], Self.profiles[4])
                + ["--count", "\(Self.perProfile)", "--rate", "0.05", "--duration", "15", "--seed", "5000"])
        let (status, report) = try sim.finish()
        #expect(status == 0, "fogline-sim failed:\n\(sim.log.suffix(4_000))")
        let devicesInReport = try #require(report?.devices, "no report:\n\(sim.log.suffix(4_000))")
        #expect(devicesInReport.count == Self.profiles.count * Self.perProfile)
        // Figures for the reader, not asserted: how long the fleet took to connect and to be born
        // (births wait for the edge's `online` status, delivered retained on subscribe).
        for figure in ["devices connected in", "devices born in"] {
            let line = sim.log.split(separator: "\n").first { $0.contains(figure) }
            print("fogline-sim: \(line.map(String.init) ?? "no \"\(figure)\" logged")")
        }

        try waitUntil("the independent subscriber to see every birth") { birthLines() == devicesInReport.count }

        var mismatched: [String] = []
        do {
            try waitUntil("the edge to hold every reading of the 5,000 devices", seconds: 60) {
                let stored = try admin.devices()
                mismatched = devicesInReport.compactMap { id, want in
                    let telemetry = stored[id]?["telemetry"]
                    let match = telemetry?["received"]?.numberValue == want.published + want.gaps
                        && telemetry?["lastSeq"]?.numberValue == want.lastSeq
                    return match ? nil : id
                }.sorted()
                return mismatched.isEmpty && stored.count == devicesInReport.count + 1  // + the probe
            }
        } catch {
            let stored = (try? admin.devices()) ?? [:]
            let examples = mismatched.prefix(8).map { id in
                "\(id): report published \(devicesInReport[id]?.published ?? -1) lastSeq \(String(describing: devicesInReport[id]?.lastSeq)) births \(devicesInReport[id]?.births ?? -1); edge \(String(describing: stored[id]?["telemetry"]))"
            }
            let byProfile = Dictionary(grouping: mismatched) { $0.split(separator: "-").first.map(String.init) ?? "" }.mapValues(\.count)
            Issue.record("""
                \(mismatched.count) devices differ (\(byProfile)), \(stored.count) devices at the edge, \
                edge MQTT messages dropped: \(String(describing: try? metric("fogline_mqtt_incoming_dropped_total"))), \
                received: \(String(describing: try? metric("fogline_device_messages_total"))); e.g.
                \(examples.joined(separator: "\n"))
                \(site.log.suffix(4_000))
                """)
            throw error
        }
        let stored = try admin.devices()
        #expect(stored.count == Self.profiles.count * Self.perProfile + 1, "5,000 devices and the probe")
        // Every device's birth was registered with its profile.
        for (id, want) in devicesInReport {
            #expect(stored[id]?["profile"]?.stringValue == id.split(separator: "-").first.map(String.init), "\(id)")
            #expect(want.births == 1, "\(id) lost its connection: \(want)")
        }
    }

    /// How long 5,000 devices take to connect and to be born, without waiting for the edge
    /// (`--await-edge 0`: three subscriptions per device, as before devices waited) and with it
    /// (a fourth, wildcard subscription per device, and the retained `online` it delivers).
    /// Prints figures only, so it runs on demand: `FOGLINE_MEASURE_CONNECT=1`.
    @Test(
        "5,000 devices: connect and birth times with and without waiting for the edge (figures only)",
        .enabled(if: ProcessInfo.processInfo.environment["FOGLINE_MEASURE_CONNECT"] != nil),
        .timeLimit(.minutes(5)))
    func connectTimes() throws {
        for wait in ["5", "0", "5", "0"] {
            let sim = try SimulatorProcess(
                broker: site.broker, directory: site.directory,
                arguments: SimulatorProcess.profiles(Self.profiles[0], Self.profiles[1], Self.profiles[2], Self.profiles[3], Self.profiles[4])
                    + ["--count", "\(Self.perProfile)", "--rate", "0.05", "--duration", "20", "--seed", "5000", "--await-edge", wait])
            let (status, _) = try sim.finish()
            #expect(status == 0, "fogline-sim failed:\n\(sim.log.suffix(4_000))")
            for figure in ["devices connected in", "devices born in"] {
                let line = sim.log.split(separator: "\n").first { $0.contains(figure) }
                print("--await-edge \(wait): \(line.map(String.init) ?? "no \"\(figure)\" logged")")
            }
        }
    }
}
