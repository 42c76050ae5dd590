import FoglineStore
import FoglineTesting
import FoglineWire
import Foundation
import Testing

/// Runs the real `fogline-edge` against a real Mosquitto the test starts, and drives it with
/// `mosquitto_pub` as devices would.
@Suite("fogline-edge process", .serialized)
final class EdgeProcessTests {
    let site: EdgeUnderTest

    init() throws {
        site = try EdgeUnderTest()
    }

    var broker: MosquittoProcess { site.broker }
    var directory: URL { site.directory }
    var adminPort: Int { site.adminPort }

    func startEdge() throws { try site.startEdge() }

    func publish(_ device: String, _ channel: String, _ json: String) throws {
        let result = try ProgramProcess.run("/usr/bin/mosquitto_pub", [
            "-p", "\(broker.port)", "-q", "1", "-t", "fogline/v1/plant-1/dev/\(device)/\(channel)", "-m", json,
        ])
        #expect(result.status == 0, "mosquitto_pub: \(result.output)")
    }

    func device(_ id: String) throws -> JSONValue? {
        let response = try HTTPTestClient.request(port: adminPort, method: "GET", path: "/v1/devices/\(id)")
        return response.status == 200 ? try StrictJSON.parse(response.body) : nil
    }

    func metric(_ line: String) throws -> Double? {
        try HTTPTestClient.metric(port: adminPort, line)
    }

    @Test("ingests, deduplicates, counts gaps and rejects; survives kill -9 and keeps deduplicating after restart")
    func ingestAndCrash() throws {
        try startEdge()
        try publish("th-1", "birth", #"{"profile":"thermostat","fw":"1.0","replay":true}"#)
        for seq in [0, 1, 2, 2, 5] { try publish("th-1", "telemetry", #"{"seq":\#(seq),"values":{"temp":21}}"#) }
        try publish("th-1", "telemetry", "not json")
        try publish("th-1", "telemetry", #"{"seq":"x","values":{}}"#)
        try waitUntil("4 readings, 1 duplicate and 2 rejections") {
            let telemetry = try device("th-1")?["telemetry"]
            let rejected = try metric(#"fogline_rejected_messages_total{reason="wrong_type"}"#)
            return telemetry?["received"]?.numberValue == 4 && telemetry?["duplicates"]?.numberValue == 1 && rejected == 1
        }
        #expect(try device("th-1")?["telemetry"]?["gaps"]?.numberValue == 2)
        #expect(try metric(#"fogline_rejected_messages_total{reason="invalid_json"}"#) == 1)

        // Once the four readings are committed (not merely ingested), kill -9 and restart: the
        // database is intact and the window still knows seq 5. (Waiting for "one more
        // transaction" instead raced: the readings' commit could come before the count was read,
        // and then nothing more was written.)
        try waitUntil("the four readings to be committed") { try metric("fogline_store_readings_committed_total") ?? 0 >= 4 }
        site.stopEdge(signal: SIGKILL)
        let store = try EdgeStore(path: site.databasePath)
        #expect(try store.integrityCheck() == "ok")
        try store.close()
        try startEdge()
        try publish("th-1", "telemetry", #"{"seq":5,"values":{"temp":21}}"#)
        try publish("th-1", "telemetry", #"{"seq":3,"values":{"temp":21}}"#)
        try waitUntil("the replayed seq 3 to be stored and seq 5 to count as a duplicate") {
            let telemetry = try device("th-1")?["telemetry"]
            return telemetry?["gapsFilled"]?.numberValue == 1 && telemetry?["duplicates"]?.numberValue == 2
        }
    }

    @Test("kill -9 in the middle of a burst, restart, the device resends: every reading stored and counted once")
    func crashMidBurst() throws {
        try startEdge()
        try publish("m-1", "birth", #"{"profile":"meter","replay":true}"#)
        let lines = (0..<300).map { #"{"seq":\#($0),"values":{"power":\#($0 % 7)}}"# }.joined(separator: "\n") + "\n"
        let file = directory.appendingPathComponent("burst.txt")
        try lines.write(to: file, atomically: true, encoding: .utf8)
        let burst = "/usr/bin/mosquitto_pub -p \(broker.port) -q 1 -t fogline/v1/plant-1/dev/m-1/telemetry -l < \(file.path)"
        try waitUntil("the first readings") { try device("m-1") != nil }
        let sender = try ChildProcess(path: "/bin/sh", arguments: ["-c", burst])
        try waitUntil("part of the burst to be ingested", seconds: 30) {
            (try device("m-1")?["telemetry"]?["received"]?.numberValue ?? 0) >= 40
        }
        site.stopEdge(signal: SIGKILL)
        sender.wait()
        try startEdge()
        // The device answers the replay requests by resending everything (simplest honest device).
        try ProgramProcess.run("/bin/sh", ["-c", burst])
        try waitUntil("all 300 readings", seconds: 30) {
            try device("m-1")?["telemetry"]?["received"]?.numberValue == 300
        }
        let committed = try metric("fogline_store_transactions_total") ?? 0
        try waitUntil("a store transaction after the last reading") { try metric("fogline_store_transactions_total") ?? 0 > committed }
        site.stopEdge(signal: SIGTERM)
        let store = try EdgeStore(path: site.databasePath)
        #expect(try store.integrityCheck() == "ok")
        let state = try store.loadSiteState()
        #expect(state.raw.readings.keys.filter { $0.device == "m-1" }.count == 300)
        let counted = state.rollups.windows(device: "m-1", metric: "power").reduce(0) { $0 + $1.summary.count }
        #expect(counted == 300, "every reading counted exactly once in the rollups")
        try store.close()
    }

    @Test("desired fields reach the device retained; SIGTERM publishes offline status")
    func desiredAndGracefulStop() throws {
        try startEdge()
        let response = try HTTPTestClient.request(
            port: adminPort, method: "PUT", path: "/v1/devices/th-9/desired", body: Array(#"{"fields":{"setpoint":22.5}}"#.utf8))
        #expect(response.status == 200)
        let retained = try ProgramProcess.run("/usr/bin/mosquitto_sub", [
            "-p", "\(broker.port)", "-t", "fogline/v1/plant-1/dev/th-9/desired", "-C", "1", "-W", "10",
        ])
        #expect(retained.output.contains(#""setpoint":22.5"#), "\(retained.output)")
        #expect(site.stopEdge(signal: SIGTERM) == 0)
        let status = try ProgramProcess.run("/usr/bin/mosquitto_sub", [
            "-p", "\(broker.port)", "-t", "fogline/v1/plant-1/node/edge-a/status", "-C", "1", "-W", "10",
        ])
        #expect(status.output.contains(#""state":"offline""#), "\(status.output)\n\(site.edge?.log ?? "")")
    }
}
