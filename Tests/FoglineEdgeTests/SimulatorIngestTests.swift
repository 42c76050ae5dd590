import FoglineTesting
import FoglineWire
import Foundation
import Testing

/// The real simulator against the real edge node on a real broker: what the edge stored equals
/// what the simulator's report says each device published; gaps are replayed; a valve rejects a
/// command with a lower fence than it has seen.
@Suite("fogline-sim → fogline-edge")
final class SimulatorIngestTests {
    let site: EdgeUnderTest

    init() throws {
        site = try EdgeUnderTest()
        try site.startEdge()
    }

    var broker: MosquittoProcess { site.broker }
    var directory: URL { site.directory }
    var adminPort: Int { site.adminPort }

    static var devicesDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../devices").standardized.path
    }

    func runSimulator(_ extra: [String]) throws -> JSONValue {
        let report = directory.appendingPathComponent("report-\(UUID().uuidString.prefix(6)).json")
        let sim = try ProgramProcess(
            "fogline-sim",
            arguments: ["--broker", broker.url, "--site", "plant-1", "--report", report.path] + extra,
            logDirectory: directory)
        let status = sim.process.wait()
        #expect(status == 0, "fogline-sim failed:\n\(sim.log)")
        return try StrictJSON.parse(Array(try Data(contentsOf: report)), limits: .init(maxBytes: 64 << 20, maxDepth: 32))
    }

    func devices() throws -> [JSONValue] {
        try StrictJSON.parse(HTTPTestClient.request(port: adminPort, method: "GET", path: "/v1/devices").body).arrayElements ?? []
    }

    @Test("every reading the simulator reports as published is stored exactly once, gaps replayed")
    func ingestMatchesReport() throws {
        let report = try runSimulator([
            "--profile", "\(Self.devicesDirectory)/thermostat.yaml", "--profile", "\(Self.devicesDirectory)/power_meter.yaml",
            "--count", "10", "--rate", "10", "--duration", "4", "--seed", "42",
            "--fault", "duplicate=0.05", "--fault", "gap=0.03", "--fault", "malformed=0.02",
        ])
        // A device's readings are those it published plus those it held back (the gap fault) and
        // sent only when the edge asked for them.
        var expected: [String: (readings: Double, lastSeq: Double)] = [:]
        for device in report["devices"]?.arrayElements ?? [] {
            guard let id = device["id"]?.stringValue, let published = device["published"]?.numberValue,
                let heldBack = device["gaps"]?.numberValue
            else { continue }
            expected[id] = (published + heldBack, device["lastSeq"]?.numberValue ?? -1)
        }
        #expect(expected.count == 20)
        try waitUntil("the edge to hold every published reading", seconds: 30) {
            let stored = try devices()
            return expected.allSatisfy { id, want in
                stored.first { $0["id"]?.stringValue == id }?["telemetry"]?["received"]?.numberValue == want.readings
            }
        }
        for device in try devices() {
            guard let id = device["id"]?.stringValue, let want = expected[id] else { continue }
            let telemetry = device["telemetry"]
            #expect(telemetry?["lastSeq"]?.numberValue == want.lastSeq, "\(id)")
            #expect(want.readings == want.lastSeq + 1, "\(id): one birth, so seqs 0...lastSeq")
            // Every gap the simulator made was asked for and filled.
            #expect(telemetry?["gapsFilled"]?.numberValue == telemetry?["gaps"]?.numberValue, "\(id): \(String(describing: telemetry))")
        }
    }
}
