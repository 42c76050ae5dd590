import FoglineTesting
import FoglineWire
import Foundation
import Testing

/// The site broker stops for a moment while the simulator streams telemetry and comes back on
/// the same port: the edge and the devices reconnect, and the edge ends with every reading the
/// simulator published, once.
///
/// A simulated device that loses its connection is born again and continues its stream (the
/// birth carries its next `seq`), so the edge must end with every seq from 0 to the report's
/// `lastSeq`: readings the stopped broker had acknowledged to a device but not delivered are a
/// gap at the new birth, asked for and replayed.
///
/// Devices that reconnect before the edge has resubscribed must not be born unseen (the edge
/// would keep the old seq window and drop the new readings as duplicates): they wait for the
/// edge's `online` status, which it publishes only after subscribing (`--await-edge`).
@Suite("broker restart under fogline-sim → fogline-edge")
final class BrokerRestartTests {
    let site: EdgeUnderTest
    var admin: AdminClient { AdminClient(port: site.adminPort) }

    init() throws {
        site = try EdgeUnderTest()
        try site.startEdge()
    }

    func healthz() throws -> Int { try HTTPTestClient.request(port: site.adminPort, method: "GET", path: "/healthz").status }

    @Test(
        "Mosquitto stopped for ~2 s mid-stream and restarted: every published reading stored once",
        .timeLimit(.minutes(3)))
    func brokerRestartMidStream() throws {
        let sim = try SimulatorProcess(
            broker: site.broker, directory: site.directory,
            arguments: SimulatorProcess.profiles("thermostat") + ["--count", "10", "--rate", "10", "--duration", "15", "--seed", "11"])
        try waitUntil("every thermostat streaming (20 readings each)") {
            let devices = try admin.devices()
            return devices.count == 10 && devices.values.allSatisfy { ($0["telemetry"]?["received"]?.numberValue ?? 0) >= 20 }
        }

        site.broker.stop()
        try waitUntil("the edge to notice the broker is gone") { try healthz() == 503 }
        // The outage itself: a fixed ~2 s without a broker (an input of the test, not a wait for a condition).
        usleep(2_000_000)
        try site.broker.start()
        try waitUntil("the edge to reconnect", seconds: 30) { try healthz() == 200 }

        let (status, report) = try sim.finish()
        #expect(status == 0, "fogline-sim failed:\n\(sim.log)")
        // For the reader: devices whose last publishes before the outage were never acknowledged
        // (the simulator sends them again before the new birth, once the edge is online).
        for line in sim.log.split(separator: "\n") where line.contains("held for the next session") { print(line) }
        let devices = try #require(report?.devices, "no report:\n\(sim.log)")
        #expect(devices.count == 10)
        var stored: [String: JSONValue] = [:]
        do {
            try waitUntil("the edge to hold every published reading", seconds: 30) {
                stored = try admin.devices()
                return devices.allSatisfy { id, want in
                    let telemetry = stored[id]?["telemetry"]
                    return telemetry?["received"]?.numberValue == want.published + want.gaps
                        && telemetry?["lastSeq"]?.numberValue == want.lastSeq
                }
            }
        } catch {
            let lines = devices.sorted { $0.key < $1.key }.map { id, want in
                "\(id): report published \(want.published), lastSeq \(want.lastSeq.map { "\(Int($0))" } ?? "-"), births \(Int(want.births)); "
                    + "edge \(stored[id]?["telemetry"].map(\.description) ?? "-")"
            }
            Issue.record("\(lines.joined(separator: "\n"))\nedge log:\n\(site.log.suffix(3_000))\nsim log:\n\(sim.log.suffix(3_000))")
            throw error
        }
        for (id, want) in devices {
            #expect(want.connectionLosses >= 1, "\(id) did not see the outage: \(want)")
            // The run outlasts the outage and the reconnect delays (1–5 s), so every device
            // streamed in a second session: the case the edge's `online` status gates.
            #expect(want.births >= 2, "\(id) was not born again: \(want)")
            #expect(want.lastSeq.map { $0 + 1 } == want.published + want.gaps, "\(id): one stream across its sessions: \(want)")
            #expect(want.edgeWaitTimeouts == 0, "\(id) was born without seeing the edge online: \(want)")
            let telemetry = stored[id]?["telemetry"]
            #expect(telemetry?["gapsFilled"]?.numberValue == telemetry?["gaps"]?.numberValue, "\(id): \(String(describing: telemetry))")
        }
        // The edge logged the loss and its reconnect.
        #expect(site.log.contains("MQTT connection lost"), "\(site.log)")
        #expect(site.log.components(separatedBy: "connected to the site broker").count >= 3, "two connects: \(site.log)")
    }
}
