import FoglineTesting
import FoglineWire
import Foundation
import Testing

/// Actuator commands end to end with real processes: Mosquitto, `fogline-edge` and the
/// simulator's valves, which ack `cmd` and reject a fence lower than the highest they have seen.
@Suite("commands: fogline-edge → fogline-sim valves")
final class CommandProcessTests {
    let site: EdgeUnderTest
    var admin: AdminClient { AdminClient(port: site.adminPort) }

    init() throws {
        site = try EdgeUnderTest()
    }

    /// Two valves for the whole test (30 s is longer than any test needs; stopped at the end).
    func startValves() throws -> SimulatorProcess {
        let sim = try SimulatorProcess(
            broker: site.broker, directory: site.directory,
            arguments: SimulatorProcess.profiles("valve") + ["--count", "2", "--duration", "30", "--seed", "7"])
        // A device subscribes to `cmd` before it publishes its birth, so once the edge knows
        // the valve a command reaches it.
        try waitUntil("both valves' births at the edge") {
            let devices = try admin.devices()
            return devices["valve-0001"] != nil && devices["valve-0002"] != nil
        }
        return sim
    }

    func waitForStatus(_ status: String, of command: JSONValue, at admin: AdminClient, seconds: Double = 20) throws -> JSONValue {
        let id = try #require(command["id"]?.stringValue)
        var last: JSONValue?
        do {
            try waitUntil("command \(id) to be \(status)", seconds: seconds) {
                last = try admin.command(id)
                return last?["status"]?.stringValue == status
            }
        } catch {
            Issue.record("command \(id): \(String(describing: last))")
            throw error
        }
        return try #require(last)
    }

    @Test("a command to a valve is acked ok and the valve reports its new position")
    func commandAcked() throws {
        try site.startEdge()
        let sim = try startValves()
        let sent = try admin.sendCommand(to: "valve-0001", #"{"name":"open_valve","args":{"percent":40}}"#)
        #expect(sent["status"]?.stringValue == "pending")
        let done = try waitForStatus("ok", of: sent, at: admin)
        #expect(done["attempts"]?.numberValue == 1)
        try waitUntil("the valve's reported position 40") {
            try admin.get("/v1/devices/valve-0001")?["reported"]?["position"]?.numberValue == 40
        }
        let history = try admin.get("/v1/devices/valve-0001")?["commands"]?.arrayElements ?? []
        #expect(history.map { [$0["id"]?.stringValue, $0["name"]?.stringValue, $0["status"]?.stringValue] }
            == [[sent["id"]?.stringValue, "open_valve", "ok"]], "the device's replicated command history")
        let (_, report) = try sim.finish(stop: true)
        let valve = try #require(report?.devices["valve-0001"], "\(sim.log)")
        #expect(valve.acked.ok == 1 && valve.acked.rejected == 0 && valve.acked.failed == 0)
        #expect(report?.devices["valve-0002"]?.acked.ok == 0, "the other valve got no command")
    }

    @Test("a command nobody answers ends timed_out after the configured attempts, each one published")
    func commandTimesOut() throws {
        try site.startEdge(configuration: "commands:\n  timeout_ms: 300\n  attempts: 3\n")
        let topic = "fogline/v1/plant-1/dev/nobody-1/cmd"
        // An independent subscriber counts what the edge publishes on the device's cmd topic. A
        // probe it receives shows its subscription is in place before the command is sent.
        let output = site.directory.appendingPathComponent("cmd.txt")
        let subscriber = try ChildProcess(
            path: "/usr/bin/mosquitto_sub", arguments: ["-p", "\(site.broker.port)", "-q", "1", "-t", topic], output: output.path)
        defer { subscriber.stop(signal: SIGKILL) }
        var received: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
        try waitUntil("the subscriber to see a probe") {
            try ProgramProcess.run("/usr/bin/mosquitto_pub", ["-p", "\(site.broker.port)", "-t", topic, "-m", "probe"])
            return received.contains("probe")
        }

        let sent = try admin.sendCommand(to: "nobody-1", #"{"name":"open_valve","args":{}}"#)
        let done = try waitForStatus("timed_out", of: sent, at: admin)
        #expect(done["attempts"]?.numberValue == 3)
        let id = try #require(sent["id"]?.stringValue)
        try waitUntil("three publishes of the command") {
            received.split(separator: "\n").filter { $0.contains(id) }.count == 3
        }
        // Still three once it is final: no fourth attempt after timed_out (the edge retries from a
        // once-a-second tick, so one more tick has passed when the status reads timed_out again).
        let after = try #require(try admin.command(id))
        #expect(after["status"]?.stringValue == "timed_out" && after["attempts"]?.numberValue == 3)
    }

    @Test("commands carry the owner's lease token; a stale owner's lower fence is rejected by the valve")
    func staleOwnerFencedOut() throws {
        try site.startEdge()
        let sim = try startValves()
        let first = try admin.sendCommand(to: "valve-0001", #"{"name":"open_valve","args":{"percent":70}}"#)
        _ = try waitForStatus("ok", of: first, at: admin)
        let fence = try #require(first["fence"]?.numberValue)
        #expect(fence >= 1, "the fence is the token of this node's lease on the valve's shard")

        // A node that lost the shard but did not notice would still send with an older token;
        // imitate it on the broker: the valve must refuse it.
        let stale = #"{"id":"c-stale-1","name":"close_valve","args":{},"fence":\#(Int(fence) - 1)}"#
        let published = try ProgramProcess.run("/usr/bin/mosquitto_pub", [
            "-p", "\(site.broker.port)", "-q", "1", "-t", "fogline/v1/plant-1/dev/valve-0001/cmd", "-m", stale,
        ])
        #expect(published.status == 0, "\(published.output)")
        // The valve's rejection comes back as a cmd/ack for a command this node never sent.
        try waitUntil("the valve's rejection of the stale command") {
            let metrics = String(decoding: try HTTPTestClient.request(port: site.adminPort, method: "GET", path: "/metrics").body, as: UTF8.self)
            return metrics.contains(#"fogline_rejected_messages_total{reason="unknown_command"} 1"#)
        }

        // The owner still commands the valve, with its token.
        let again = try admin.sendCommand(to: "valve-0001", #"{"name":"set_position","args":{"position":55}}"#)
        #expect(again["fence"]?.numberValue == fence)
        _ = try waitForStatus("ok", of: again, at: admin)
        try waitUntil("the valve's reported position 55") {
            try admin.get("/v1/devices/valve-0001")?["reported"]?["position"]?.numberValue == 55
        }

        let (_, report) = try sim.finish(stop: true)
        let valve = try #require(report?.devices["valve-0001"], "\(sim.log)")
        #expect(valve.acked.ok == 2 && valve.acked.rejected == 1 && valve.fenceRejections == 1)
    }
}
