import FoglineCore
import FoglineMQTT
import FoglineTesting
import FoglineWire
import Foundation
import Testing

/// `fogline-cloud dash` for real: the aggregator started by ``CloudProcessTests`` with a site
/// seeded through ``FakeEdgeLink``, the dashboard inside a detached tmux session of its own (its
/// own server socket), driven with `send-keys` and read with `capture-pane`.
extension CloudProcessTests {
    /// Runs `tmux -L socket ARGS…` off the cooperative pool; returns its status and output.
    func tmux(_ socket: String, _ arguments: [String]) async -> (status: Int32, output: String) {
        await OffPool.run {
            (try? ProgramProcess.run("/usr/bin/env", ["LANG=C.UTF-8", "tmux", "-u", "-L", socket] + arguments)) ?? (status: -1, output: "")
        }
    }

    /// Polls the pane until `condition` holds; returns the screen then.
    @discardableResult
    func waitForScreen(_ socket: String, _ what: String, seconds: Double = 30, _ condition: (String) -> Bool) async throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var screen = ""
        while Date() < deadline {
            screen = await tmux(socket, ["capture-pane", "-p", "-t", "dash"]).output
            if condition(screen) { return screen }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ProgramProcess.Failure.deadline("\(what); the screen:\n\(screen)\naggregator log:\n\(cloud?.log ?? "")")
    }

    /// A site `plant-1` as edge `edge-a` would sync it: a thermostat with telemetry over the last
    /// minutes, a reported setpoint and an acknowledged command, an offline valve with an alarm; the hello carries a site
    /// status (edge-a holds cloud-uplink, edge-b is down).
    func seededEdgeState(now: UInt64) -> SiteState {
        var state = SiteState()
        let writer = SyncFixtures.writer
        func stamp(_ ms: UInt64) -> HLCTimestamp { SyncFixtures.stamp(ms) }
        _ = state.set(.registry, device: "th-1", fields: [("profile", .string("thermostat")), ("fw", .string("1.4.2"))], stamp: stamp(now - 600_000))
        _ = state.setPresence(device: "th-1", online: true, stamp: stamp(now - 600_000))
        _ = state.set(.reported, device: "th-1", fields: [("mode", .string("heat")), ("setpoint", .number(21))], stamp: stamp(now - 500_000))
        for minute in 0..<8 {
            let at = now - UInt64(8 - minute) * 60_000
            _ = state.recordTelemetry(
                device: "th-1", epoch: 1, seq: UInt64(minute), deviceTime: nil, values: [.init(name: "temp", value: 20 + Double(minute % 4))],
                stamp: stamp(at), keepRaw: true)
        }
        _ = state.set(.registry, device: "th-1", fields: [("last_seen", .number(Double(now - 60_000)))], stamp: stamp(now - 60_000))
        let commands = CommandHistory(entries: [.init(id: "c-1", name: "set_mode", status: "ok", createdMilliseconds: now - 120_000)])
        _ = state.set(.registry, device: "th-1", fields: [(CommandHistory.registryField, commands.registryValue)], stamp: stamp(now - 120_000))
        _ = state.set(.registry, device: "valve-1", fields: [("profile", .string("valve"))], stamp: stamp(now - 900_000))
        _ = state.setPresence(device: "valve-1", online: false, stamp: stamp(now - 300_000))
        _ = state.raise(Alarm(device: "valve-1", code: "stuck"), by: writer)
        return state
    }

    static func siteStatus(now: UInt64) -> Fogline_V1_SiteStatus {
        var status = Fogline_V1_SiteStatus()
        status.hlcPhysicalMs = now
        status.clockTrusted = true
        status.shardCount = 16
        status.shardsOwned = 16
        status.roles = ["cloud-uplink"]
        var peer = Fogline_V1_MemberHealth()
        peer.node = "edge-b"
        peer.live = false
        peer.phi = 12
        // Its last heartbeat, before it went down: no shards, and a clock it did not trust.
        peer.reported = true
        peer.clockTrusted = false
        peer.hlcPhysicalMs = now - 30_000
        status.members = [peer]
        return status
    }

    @Test("the dashboard in tmux: sites, the unreachable banner and recovery, site → device → edit desired (reaches the aggregator) → back, quit restores the terminal")
    func dashboardInTmux() async throws {
        try startCloud()
        let link = try await FakeEdgeLink(brokerURL: broker.url)
        defer { withExtendedLifetime(link) {} }
        let up = "fogline/v1/sync/plant-1/edge-a/up"
        let now = UInt64(Date().timeIntervalSince1970 * 1_000)
        let state = seededEdgeState(now: now)
        var hello = Fogline_V1_SyncHello(summary: state.summary)
        hello.wantsReply = true
        hello.status = Self.siteStatus(now: now)
        func received(_ match: (Fogline_V1_SyncFrame) -> Bool) -> Fogline_V1_SyncFrame? {
            link.received.frames.withLock { $0.first(where: match) }
        }
        // The aggregator subscribes shortly after it starts: say hello until it answers.
        var cloudHello: Fogline_V1_SyncHello?
        let helloDeadline = Date().addingTimeInterval(30)
        while cloudHello == nil, Date() < helloDeadline {
            try await link.client.publish(MQTTMessage(topic: up, payload: try frame(.hello(hello), sign: edgeKey), qos: .atLeastOnce))
            try await Task.sleep(for: .milliseconds(250))
            if case .hello(let body)? = received({ if case .hello = $0.body { true } else { false } })?.body { cloudHello = body }
        }
        let cloudSummary = try #require(try cloudHello?.toReplicaSummary(), "no hello from fogline-cloud:\n\(cloud?.log ?? "")")
        var part = try #require(SyncBatchCodec.encode(state.asDelta, batchID: 801, maxPartBytes: 65_536).first)
        part.base = Fogline_V1_CausalContext(cloudSummary.context)
        try await link.client.publish(MQTTMessage(topic: up, payload: try frame(.batch(part), batchID: 801, sign: edgeKey), qos: .atLeastOnce))
        let ackDeadline = Date().addingTimeInterval(30)
        while received({ if case .ack(let ack) = $0.body { ack.batchID == 801 } else { false } }) == nil {
            guard Date() < ackDeadline else { throw ProgramProcess.Failure.deadline("the ack of the seeded batch\n\(cloud?.log ?? "")") }
            try await Task.sleep(for: .milliseconds(25))
        }

        // The dashboard, in a 120x40 tmux session; after it exits, the shell records the tty's settings.
        let socket = "fogline-dash-\(UUID().uuidString.prefix(8))"
        let binary = ProgramProcess.buildDirectory.appendingPathComponent("fogline-cloud").path
        let sttyFile = directory.appendingPathComponent("stty-after")
        let command = "LANG=C.UTF-8 '\(binary)' dash --url http://127.0.0.1:\(httpPort) --interval-ms 200; stty -a > '\(sttyFile.path)'"
        let started = await tmux(socket, ["new-session", "-d", "-x", "120", "-y", "40", "-s", "dash", command])
        #expect(started.status == 0, "tmux new-session: \(started.output)")
        // Ends the session (and the dashboard, if a step failed) however the test leaves; a short blocking call.
        defer { _ = try? ProgramProcess.run("/usr/bin/env", ["tmux", "-L", socket, "kill-server"]) }

        // Each wait names everything the view must show: tmux may capture a frame half written.
        // Nodes up/total 1/2 (edge-b is down), edge-a the uplink holder, devices online/total 1/2, the alarm.
        try await waitForScreen(socket, "the sites table with plant-1") { screen in
            ["Sites (1)", "plant-1", "1/2", "edge-a", "! 1"].allSatisfy(screen.contains)
        }

        // The aggregator goes away: the banner; it comes back (same database and port): the banner goes.
        let first = cloud
        #expect(await OffPool.run { first?.stop(signal: SIGTERM) } == 0)
        try await waitForScreen(socket, "the unreachable banner") { $0.contains("AGGREGATOR UNREACHABLE") && $0.contains("plant-1") }
        try startCloud()
        try await waitForScreen(socket, "recovery once the aggregator is back") { !$0.contains("AGGREGATOR UNREACHABLE") && $0.contains("Sites (1)") }

        // Into the site: nodes with the holder's status, devices with the alarm and presence.
        _ = await tmux(socket, ["send-keys", "-t", "dash", "Enter"])
        try await waitForScreen(socket, "the site view: the holder's status, edge-b down with an untrusted clock, valve-1 offline") { screen in
            ["Devices (2, 1 online)", "valve-1", "cloud-uplink", "trusted", "DOWN", "UNTRUSTED", "OFF"].allSatisfy(screen.contains)
        }

        // Into th-1 (the first device), select setpoint (the second twin field), edit it.
        _ = await tmux(socket, ["send-keys", "-t", "dash", "Enter"])
        try await waitForScreen(socket, "the device view: twin, rollup chart, commands") { screen in
            ["Twin: reported vs desired", "setpoint", "temp: mean per minute", "cmd set_mode ok"].allSatisfy(screen.contains)
        }
        _ = await tmux(socket, ["send-keys", "-t", "dash", "j", "e"])
        try await waitForScreen(socket, "the edit prompt") { $0.contains("desired th-1: setpoint=") }
        _ = await tmux(socket, ["send-keys", "-t", "dash", "-l", "23.5"])
        _ = await tmux(socket, ["send-keys", "-t", "dash", "Enter"])
        try await waitForScreen(socket, "the written value, pending until the device reports it") {
            $0.contains("23.5") && $0.contains("pending")
        }

        let port = httpPort
        let device = try await OffPool.run { Result { try HTTPTestClient.request(port: port, method: "GET", path: "/v1/sites/plant-1/devices/th-1") } }.get()
        #expect(try StrictJSON.parse(device.body)["desired"]?["setpoint"]?.numberValue == 23.5, "the desired value reached the aggregator")

        // Back to the site (the pending difference in the devices table), back to the sites, quit.
        _ = await tmux(socket, ["send-keys", "-t", "dash", "Escape"])
        try await waitForScreen(socket, "the site view again, with the pending difference") { $0.contains("Devices (2, 1 online)") && $0.contains("setpoint 21→23.5") }
        _ = await tmux(socket, ["send-keys", "-t", "dash", "Escape"])
        try await waitForScreen(socket, "the sites view again") { $0.contains("Sites (1)") }
        _ = await tmux(socket, ["send-keys", "-t", "dash", "q"])
        let sttyDeadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: sttyFile.path) || ((try? String(contentsOf: sttyFile, encoding: .utf8)) ?? "").isEmpty {
            guard Date() < sttyDeadline else { throw ProgramProcess.Failure.deadline("the dashboard to exit on q") }
            try await Task.sleep(for: .milliseconds(100))
        }
        let stty = try String(contentsOf: sttyFile, encoding: .utf8)
        let modes = Set(stty.split(whereSeparator: \.isWhitespace).map(String.init))
        #expect(modes.isSuperset(of: ["icanon", "echo", "isig", "ixon", "icrnl"]), "the terminal is back in cooked mode:\n\(stty)")
        await link.client.disconnect()
    }
}
