import FoglineEdge
import FoglineTesting
import FoglineWire
import Foundation
import Logging
import Synchronization
import Testing

/// `fogline-edge` as systemd runs it: the notify protocol and the watchdog over a real datagram
/// socket, and SIGHUP reloading the device settings.
@Suite("fogline-edge under systemd", .serialized)
struct SystemdProcessTests {
    @Test("READY=1 once serving, WATCHDOG=1 pings while healthy, STOPPING=1 on SIGTERM, then a clean exit")
    func notifyProtocol() async throws {
        let site = try EdgeUnderTest()
        let socket = try NotifySocket(directory: site.directory)
        // A 0.4 s watchdog: pings every 0.2 s.
        try site.launchEdge(environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "400000"])
        try await pollUntil("READY=1\n\(site.log)") { socket.firstIndex(of: "READY=1") != nil }
        // READY=1 is sent once the store is open and the admin API listens: one request at once, no retry.
        let response = try await requestOffPool(port: site.adminPort, "GET", "/healthz")
        #expect([200, 503].contains(response.status), "the admin API serves once READY=1 was sent: \(response.status)")
        try await pollUntil("two watchdog pings\n\(site.log)") { socket.count(of: "WATCHDOG=1") >= 2 }
        #expect(socket.firstIndex(of: "STOPPING=1") == nil)

        let edge = try #require(site.edge)
        let status = try await offPool { edge.stop(signal: SIGTERM) }
        #expect(status == 0, "\(site.log)")
        let ready = try #require(socket.firstIndex(of: "READY=1"))
        let firstPing = try #require(socket.firstIndex(of: "WATCHDOG=1"))
        let stopping = try #require(socket.firstIndex(of: "STOPPING=1"), "no STOPPING=1 after SIGTERM: \(socket.messages)")
        #expect(ready < firstPing && firstPing < stopping, "\(socket.messages)")
    }

    @Test("the watchdog is pinged only while healthy: an unhealthy spell withholds the pings and says why, recovery resumes them")
    func watchdogWithheldWhileUnhealthy() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fogline-watchdog-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let socket = try NotifySocket(directory: directory)
        let notifier = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "40000"]))
        let interval = try #require(notifier.watchdogInterval)
        let health = ReportedHealth()
        let supervisor = Task { @Sendable in
            await WatchdogSupervisor(notifier: notifier, interval: interval, logger: Logger(label: "test")).run { health.check() }
        }
        defer { supervisor.cancel() }
        func checks() -> Int { health.state.withLock { $0.checks } }

        try await pollUntil("two pings while healthy: \(socket.messages)") { socket.count(of: "WATCHDOG=1") >= 2 }
        health.state.withLock { $0.problems = ["SQLite commits are failing: disk I/O error"] }
        try await pollUntil("the reason in STATUS: \(socket.messages)") {
            socket.firstIndex(of: "STATUS=unhealthy: SQLite commits are failing: disk I/O error") != nil
        }
        let pingsWhenUnhealthy = socket.count(of: "WATCHDOG=1")
        let checked = checks()
        try await pollUntil("five more health checks") { checks() >= checked + 5 }
        #expect(socket.count(of: "WATCHDOG=1") == pingsWhenUnhealthy, "no ping while unhealthy: \(socket.messages)")
        #expect(socket.messages.filter { $0.hasPrefix("STATUS=unhealthy") }.count == 1, "the reason is said once: \(socket.messages)")

        health.state.withLock { $0.problems = [] }
        try await pollUntil("pings to resume: \(socket.messages)") { socket.count(of: "WATCHDOG=1") >= pingsWhenUnhealthy + 2 }
        #expect(socket.firstIndex(of: "STATUS=healthy again") != nil)
    }

    @Test("WATCHDOG_PID naming another process turns the pings off; no NOTIFY_SOCKET, no notifier")
    func watchdogEnvironment() {
        let environment = ["NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "30000000"]
        #expect(SystemdNotifier(environment: environment, pid: 42)?.watchdogInterval == .seconds(15))
        #expect(SystemdNotifier(environment: environment.merging(["WATCHDOG_PID": "42"]) { $1 }, pid: 42)?.watchdogInterval == .seconds(15))
        #expect(SystemdNotifier(environment: environment.merging(["WATCHDOG_PID": "7"]) { $1 }, pid: 42)?.watchdogInterval == nil)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "@abstract"], pid: 42)?.watchdogInterval == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "30000000"], pid: 42) == nil)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "relative/path"], pid: 42) == nil)
    }

    @Test("SIGHUP applies new device settings to the running node; a broken file is refused and changes nothing")
    func reloadOnSIGHUP() async throws {
        let site = try EdgeUnderTest()
        try site.launchEdge(configuration: "devices:\n  max_payload_bytes: 65536\n")
        try await pollUntil("the edge's /healthz to report ok\n\(site.log)") {
            try await requestOffPool(port: site.adminPort, "GET", "/healthz").status == 200
        }
        func telemetry(seq: Int) throws -> String {
            // About 2 KB: above the limit set below, well under the first one.
            let values = (0..<80).map { "\"metric_\($0)\":\($0)" }.joined(separator: ",")
            return #"{"seq":\#(seq),"values":{\#(values)}}"#
        }
        let brokerPort = site.broker.port
        func publish(_ channel: String, _ payload: String) async throws {
            let result = try await offPool {
                try ProgramProcess.run("/usr/bin/mosquitto_pub", [
                    "-p", "\(brokerPort)", "-q", "1", "-t", "fogline/v1/plant-1/dev/m-1/\(channel)", "-m", payload,
                ])
            }
            #expect(result.status == 0, "mosquitto_pub: \(result.output)")
        }
        func status() async throws -> JSONValue {
            try StrictJSON.parse(try await requestOffPool(port: site.adminPort, "GET", "/v1/status").body)
        }
        func received() async throws -> Double? {
            let response = try await requestOffPool(port: site.adminPort, "GET", "/v1/devices/m-1")
            return response.status == 200 ? try StrictJSON.parse(response.body)["telemetry"]?["received"]?.numberValue : nil
        }
        func oversized() async throws -> Double? {
            try await offPool { try site.metric(#"fogline_rejected_messages_total{reason="oversized"}"#) }
        }

        try await publish("birth", #"{"profile":"meter"}"#)
        try await publish("telemetry", try telemetry(seq: 0))
        try await pollUntil("the 2 KB reading to be stored under the 64 KiB limit\n\(site.log)") { try await received() == 1 }
        #expect(try await oversized() == 0)

        try "devices:\n  max_payload_bytes: 1024\n  presence_timeout_s: 30\n".write(to: site.configurationFile, atomically: true, encoding: .utf8)
        let pid = try #require(site.edge?.process.pid)
        kill(pid, SIGHUP)
        try await pollUntil("the reloaded settings in /v1/status\n\(site.log)") {
            try await status()["devices"]?["settings"]?["maxPayloadBytes"]?.numberValue == 1_024
        }
        #expect(try await status()["devices"]?["settings"]?["presenceTimeoutS"]?.numberValue == 30)
        try await publish("telemetry", try telemetry(seq: 1))
        try await pollUntil("the same size of reading to be rejected as oversized\n\(site.log)") { try await oversized() == 1 }
        #expect(try await received() == 1)

        try "devices: [unclosed\n".write(to: site.configurationFile, atomically: true, encoding: .utf8)
        kill(pid, SIGHUP)
        try await pollUntil("the refused reload in the log\n\(site.log)") { site.log.contains("reload refused") }
        #expect(site.edge?.process.isRunning == true)
        #expect(try await status()["devices"]?["settings"]?["maxPayloadBytes"]?.numberValue == 1_024)
    }

    @Test("the unit file: Type=notify, watchdog, restart on failure, a dedicated user, sandboxing, no secret on ExecStart")
    func unitFile() throws {
        let unit = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("edge-config/systemd/fogline-edge.service"), encoding: .utf8)
        let settings = unit.split(separator: "\n").filter { !$0.hasPrefix("#") && $0.contains("=") }.map { line in
            let parts = line.split(separator: "=", maxSplits: 1)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }
        func value(_ key: String) -> String? { settings.first { $0.0 == key }?.1 }
        #expect(value("Type") == "notify")
        #expect(value("WatchdogSec") != nil)
        #expect(value("Restart") == "on-failure")
        #expect(value("User") == "fogline")
        #expect(value("ProtectSystem") == "strict")
        #expect(value("NoNewPrivileges") == "yes")
        #expect(value("ExecReload")?.contains("-HUP") == true)
        let start = try #require(value("ExecStart"))
        #expect(start.contains("--config"))
        for secretFlag in ["--password", "--token", "--key "] { #expect(!start.contains(secretFlag)) }
    }

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}

/// The health a ``WatchdogSupervisor`` under test sees, and how many times it asked.
private final class ReportedHealth: Sendable {
    let state = Mutex<(problems: [String], checks: Int)>(([], 0))

    func check() -> [String] {
        state.withLock { state in
            state.checks += 1
            return state.problems
        }
    }
}
