import FoglineTesting
import FoglineWire
import Foundation
import Testing

/// A real site (Mosquitto + `fogline-edge`) and a real aggregator (its own Mosquitto +
/// `fogline-cloud serve` on SQLite): readings and twins go up, cloud `desired` edits come down as
/// retained messages, and after the uplink's broker was down while both sides kept changing,
/// both sides end equal.
@Suite("Edge ↔ cloud uplink (real processes)", .serialized)
final class UplinkProcessTests {
    let site: EdgeUnderTest
    let cloudBroker: MosquittoProcess
    let cloudPort: Int
    var cloud: ProgramProcess?

    init() throws {
        site = try EdgeUnderTest()
        cloudBroker = try MosquittoProcess()
        cloudPort = try MosquittoProcess.freeLoopbackPort()
    }

    deinit {
        cloud?.stop()
    }

    /// `fogline-edge keygen`, then the aggregator trusting the key it printed, then the edge.
    func start() throws {
        let keyFile = site.directory.appendingPathComponent("uplink.key").path
        let keygen = try ProgramProcess.run(ProgramProcess.buildDirectory.appendingPathComponent("fogline-edge").path, ["keygen", "--out", keyFile])
        try #require(keygen.status == 0, "keygen: \(keygen.output)")
        let publicKey = keygen.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let cloudConfig = site.directory.appendingPathComponent("cloud.yaml")
        try """
        instance: uplink-test
        sites:
          plant-1:
            nodes:
              edge-a: \(publicKey)
        """.write(to: cloudConfig, atomically: true, encoding: .utf8)
        cloud = try ProgramProcess(
            "fogline-cloud",
            arguments: [
                "serve", "--config", cloudConfig.path, "--broker", cloudBroker.url, "--http", "127.0.0.1:\(cloudPort)",
                "--db", "sqlite:\(site.directory.appendingPathComponent("cloud.sqlite").path)",
            ],
            logDirectory: site.directory)
        try waitUntil("the aggregator's /healthz") {
            (try? HTTPTestClient.request(port: cloudPort, method: "GET", path: "/healthz").status) == 200
        }
        try site.startEdge(configuration: """
            cloud:
              broker: {url: "\(cloudBroker.url)"}
              signing_key_file: \(keyFile)
              hello_interval_s: 2
            """)
    }

    func publish(_ device: String, _ channel: String, _ json: String) throws {
        let result = try ProgramProcess.run("/usr/bin/mosquitto_pub", [
            "-p", "\(site.broker.port)", "-q", "1", "-t", "fogline/v1/plant-1/dev/\(device)/\(channel)", "-m", json,
        ])
        #expect(result.status == 0, "mosquitto_pub: \(result.output)")
    }

    func cloudDevice(_ id: String) -> JSONValue? {
        guard let response = try? HTTPTestClient.request(port: cloudPort, method: "GET", path: "/v1/sites/plant-1/devices/\(id)"),
            response.status == 200
        else { return nil }
        return try? StrictJSON.parse(response.body)
    }

    func edgeDevice(_ id: String) -> JSONValue? {
        guard let response = try? HTTPTestClient.request(port: site.adminPort, method: "GET", path: "/v1/devices/\(id)"),
            response.status == 200
        else { return nil }
        return try? StrictJSON.parse(response.body)
    }

    /// The retained `desired` message the site broker holds for `device`.
    func retainedDesired(_ device: String) throws -> JSONValue? { try site.broker.retainedDesired(device) }

    var logs: String { "edge:\n\(site.log.suffix(3_000))\ncloud:\n\((cloud?.log ?? "").suffix(3_000))" }

    @Test("readings and twins reach the aggregator; a cloud desired edit reaches the device retained; after an outage with edits on both sides, both sides agree")
    func roundTripAndOutage() throws {
        try start()
        try publish("th-1", "birth", #"{"profile":"thermostat","fw":"1.0"}"#)
        for seq in 0..<5 { try publish("th-1", "telemetry", #"{"seq":\#(seq),"values":{"temp":2\#(seq)}}"#) }
        try publish("th-1", "telemetry", #"{"seq":4,"values":{"temp":24}}"#)  // a duplicate
        try publish("th-1", "reported", #"{"fields":{"setpoint":21}}"#)
        try waitUntil("the aggregator to show th-1's readings and twin", seconds: 30) {
            let device = cloudDevice("th-1")
            return device?["telemetry"]?["received"]?.numberValue == 5 && device?["telemetry"]?["duplicates"]?.numberValue == 1
                && device?["reported"]?["setpoint"]?.numberValue == 21 && device?["profile"]?.stringValue == "thermostat"
        }

        let put = try HTTPTestClient.request(
            port: cloudPort, method: "PUT", path: "/v1/sites/plant-1/devices/th-1/desired", body: Array(#"{"fields":{"mode":"eco"}}"#.utf8))
        #expect(put.status == 200, "\(put.text)")
        try waitUntil("the cloud's desired edit to reach the device as a retained message", seconds: 30) {
            try retainedDesired("th-1")?["fields"]?["mode"]?.stringValue == "eco"
        }

        // The uplink's broker goes away; both sides keep working and edit the same field.
        cloudBroker.stop()
        for seq in 5..<10 { try publish("th-1", "telemetry", #"{"seq":\#(seq),"values":{"temp":3\#(seq - 5)}}"#) }
        let edgeEdit = try HTTPTestClient.request(
            port: site.adminPort, method: "PUT", path: "/v1/devices/th-1/desired", body: Array(#"{"fields":{"setpoint":19}}"#.utf8))
        #expect(edgeEdit.status == 200, "\(edgeEdit.text)")
        let cloudEdit = try HTTPTestClient.request(
            port: cloudPort, method: "PUT", path: "/v1/sites/plant-1/devices/th-1/desired", body: Array(#"{"fields":{"setpoint":25}}"#.utf8))
        #expect(cloudEdit.status == 200, "\(cloudEdit.text)")
        try waitUntil("the edge to store the readings made offline") { edgeDevice("th-1")?["telemetry"]?["received"]?.numberValue == 10 }
        try cloudBroker.start()

        try waitUntil("both sides to agree on th-1 after the outage", seconds: 40) {
            guard let cloudSide = cloudDevice("th-1"), let edgeSide = edgeDevice("th-1") else { return false }
            return cloudSide["telemetry"]?["received"]?.numberValue == 10 && cloudSide["telemetry"]?["lastSeq"]?.numberValue == 9
                && cloudSide["desired"]?["mode"]?.stringValue == "eco"
                && cloudSide["desired"]?["setpoint"] != nil && cloudSide["desired"]?["setpoint"] == edgeSide["desired"]?["setpoint"]
                && edgeSide["desired"]?["mode"]?.stringValue == "eco"
        }
        // The same winner reached the device.
        let winner = try #require(edgeDevice("th-1")?["desired"]?["setpoint"]?.numberValue)
        try waitUntil("the device's retained desired to carry the winner") {
            try retainedDesired("th-1")?["fields"]?["setpoint"]?.numberValue == winner
        }
        #expect(cloudDevice("th-1")?["telemetry"]?["gaps"]?.numberValue == 0, "\(logs)")
        let audit = try StrictJSON.parse(HTTPTestClient.request(port: cloudPort, method: "GET", path: "/v1/sites/plant-1/audit").body)
        #expect(audit["nodes"]?.arrayElements?.allSatisfy { $0["verified"]?.boolValue == true } == true, "\(audit)")
        // The holder's hellos carry its site status: the node shows its role, clock and shards.
        let site = try StrictJSON.parse(HTTPTestClient.request(port: cloudPort, method: "GET", path: "/v1/sites/plant-1").body)
        let status = site["nodes"]?.arrayElements?.first { $0["status"]?["reportedBy"] != nil }?["status"]
        #expect(status?["roles"]?.arrayElements?.contains("cloud-uplink") == true, "\(site)")
        #expect(status?["live"]?.boolValue == true && status?["clockTrusted"]?.boolValue == true, "\(site)")
        #expect((status?["shardCount"]?.numberValue ?? 0) > 0 && status?["hlcLagMs"]?.numberValue != nil, "\(site)")
    }
}
