import Crypto
import FoglineCore
import FoglineEdge
import FoglineMQTT
import FoglineTesting
import FoglineWire
import Foundation
import Logging
import NIOCore
import Testing

/// Hostile peers and devices against a running `fogline-edge`: everything they send is refused
/// and counted by reason in `/metrics`, the node keeps serving honest peers and devices, and its
/// resident memory stays within a generous bound of where it started (a bound, not a timing).
@Suite("hostile peers and devices against a running node")
struct HostileInputProcessTests {
    /// How much the node's RSS may grow under a flood. The floods below carry far more bytes
    /// than this, so a node that kept what it refuses would exceed it.
    static let memoryGrowthBound = 96 << 20
    static let key = (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }

    static func rejectedPeerFrames(_ site: EdgeUnderTest) throws -> [String: Double] {
        var counts: [String: Double] = [:]
        for reason in ["unauthenticated", "bad_counter", "bad_tag", "oversized", "truncated", "bad_hello"] {
            counts[reason] = try site.metric(#"fogline_peer_frames_rejected_total{reason="\#(reason)"}"#) ?? 0
        }
        counts["undecodable"] = try site.metric("fogline_quorum_messages_rejected_total") ?? 0
        return counts
    }

    /// A heartbeat from `node` as the quorum service sends it, stamped by a clock `aheadBy` ahead.
    static func heartbeat(from node: String, sequence: UInt64, aheadBy: UInt64 = 0) -> [UInt8] {
        let now = UInt64(Date().timeIntervalSince1970 * 1_000) + aheadBy
        return PeerFrameCodec.encode(Fogline_V1_PeerFrame(
            from: node, site: "plant-1", sentAt: HLCTimestamp(milliseconds: now, counter: 0, node: NodeID(name: node)),
            body: .heartbeat(Fogline_V1_Heartbeat(incarnation: 1, sequence: sequence))))
    }

    /// Starts edge-a with edge-b as its peer, which the test speaks as; returns the peer port.
    static func startWithPeer(_ site: EdgeUnderTest) async throws -> Int {
        let peerPort = try MosquittoProcess.freeLoopbackPort()
        let absentPort = try MosquittoProcess.freeLoopbackPort()  // edge-b's address: the test speaks as edge-b
        let keyFile = site.directory.appendingPathComponent("site.key")
        try Data(Self.key).write(to: keyFile)
        let arguments = ["--listen", "127.0.0.1:\(peerPort)", "--site-key-file", keyFile.path, "--peer", "edge-b=127.0.0.1:\(absentPort)"]
        try await offPool({ try site.startEdge(extraArguments: arguments, awaitHealthy: false) })
        return peerPort
    }

    @Test("oversized, truncated, replayed, forged and wrongly keyed peer frames are refused and counted; an honest peer is still served; memory stays bounded")
    func hostilePeers() async throws {
        let site = try EdgeUnderTest()
        let peerPort = try await Self.startWithPeer(site)
        let residentBefore = try #require(site.edge?.residentBytes)

        func session(_ connection: inout RawPeerConnection) async throws -> SymmetricKey {
            try await connection.requireSession(from: "edge-b", to: "edge-a", site: "plant-1", key: Self.key)
        }
        // Wrong key: the hello is refused.
        try await RawPeerConnection.with(port: peerPort) { connection in
            let refused = try await connection.handshake(from: "edge-b", to: "edge-a", site: "plant-1", key: Array(repeating: 9, count: 32))
            #expect(refused == nil)
        }
        // A replay on the same connection, and a frame recorded there replayed on a new one.
        var recorded: [UInt8] = []
        try await RawPeerConnection.with(port: peerPort) { connection in
            let key = try await session(&connection)
            recorded = PeerWire.frame(PeerWire.data(counter: 1, body: Self.heartbeat(from: "edge-b", sequence: 1), sessionKey: key))
            try await connection.write(recorded)
            await connection.writeRefused(recorded)
            try await connection.expectClosedByServer()
        }
        try await RawPeerConnection.with(port: peerPort) { connection in
            _ = try await session(&connection)
            await connection.writeRefused(recorded)
            try await connection.expectClosedByServer()
        }
        // Length prefixes far beyond the limits, before authenticating (many connections) and after.
        let oversizedBeforeHello = 200
        for _ in 0..<oversizedBeforeHello {
            try await RawPeerConnection.with(port: peerPort) { connection in
                _ = try await connection.readFrame()
                await connection.writeRefused([0xFF, 0xFF, 0xFF, 0xF0] + Array(repeating: 0xAB, count: 4_096))
                try await connection.expectClosedByServer()
            }
        }
        try await RawPeerConnection.with(port: peerPort) { connection in
            _ = try await session(&connection)
            await connection.writeRefused([0x7F, 0xFF, 0xFF, 0xFF])
            try await connection.expectClosedByServer()
        }
        // A frame cut off by the end of the stream; a hello that is not one.
        try await RawPeerConnection.with(port: peerPort) { connection in
            _ = try await session(&connection)
            try await connection.write([0, 0, 1, 0] + Array(repeating: 1, count: 10))
        }
        try await RawPeerConnection.with(port: peerPort) { connection in
            _ = try await connection.readFrame()
            await connection.writeRefused(PeerWire.frame([0x02] + Array(repeating: 0x41, count: 200)))
            try await connection.expectClosedByServer()
        }
        // Authenticated but not a peer frame: large junk bodies, each refused by the decoder.
        let junkFrames = 16
        try await RawPeerConnection.with(port: peerPort) { connection in
            let key = try await session(&connection)
            for counter in 1...UInt64(junkFrames) {
                let junk = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(counter)) }
                try await connection.write(PeerWire.frame(PeerWire.data(counter: counter, body: junk, sessionKey: key)))
            }
        }

        let expected: [String: Double] = [
            "unauthenticated": 1, "bad_counter": 1, "bad_tag": 1, "oversized": Double(oversizedBeforeHello + 1), "truncated": 1,
            "bad_hello": 1, "undecodable": Double(junkFrames),
        ]
        let counted = await pollUntil { (try? await offPool({ try Self.rejectedPeerFrames(site) })) == expected }
        let rejected = try await offPool({ try Self.rejectedPeerFrames(site) })
        #expect(counted, "rejections in /metrics: \(rejected), want \(expected)\n\(site.log.suffix(3_000))")

        // An honest edge-b still gets a session, and its heartbeats make it live in /v1/status.
        let admin = AdminClient(port: site.adminPort)
        try await RawPeerConnection.with(port: peerPort) { connection in
            let key = try await session(&connection)
            // Heartbeats every 100 ms (the detector's interval is 500 ms) until the node counts
            // edge-b live, with a deadline.
            var counter: UInt64 = 0
            var live = false
            let deadline = ContinuousClock.now + .seconds(30)
            while !live && ContinuousClock.now < deadline {
                counter += 1
                try await connection.write(PeerWire.frame(PeerWire.data(counter: counter, body: Self.heartbeat(from: "edge-b", sequence: counter), sessionKey: key)))
                try await Task.sleep(for: .milliseconds(100))
                let status = try await offPool({ try admin.get("/v1/status") })
                live = (status?["quorum"]?["members"]?.arrayElements ?? []).contains {
                    $0["name"]?.stringValue == "edge-b" && $0["live"]?.boolValue == true
                }
            }
            #expect(live, "an honest peer's heartbeats after the attack (\(counter) sent)")
        }
        let residentAfter = try #require(site.edge?.residentBytes)
        #expect(residentAfter - residentBefore < Self.memoryGrowthBound, "RSS \(residentBefore) → \(residentAfter) bytes")
    }

    @Test("a peer whose clock runs an hour ahead is rejected and reported; its write and its timestamps never reach the node")
    func peerAnHourAhead() async throws {
        let site = try EdgeUnderTest()
        let peerPort = try await Self.startWithPeer(site)
        let admin = AdminClient(port: site.adminPort)
        let hour: UInt64 = 3_600_000
        // A desired write for th-1 stamped by edge-b's clock: it would win every later write.
        let stamp = HLCTimestamp(milliseconds: UInt64(Date().timeIntervalSince1970 * 1_000) + hour, counter: 0, node: NodeID(name: "edge-b"))
        var state = SiteState()
        let delta = state.set(.desired, device: "th-1", fields: [("setpoint", .number(99))], stamp: stamp)
        let gossip = PeerFrameCodec.encode(Fogline_V1_PeerFrame(
            from: "edge-b", site: "plant-1", sentAt: stamp, body: .gossipDelta(Fogline_V1_GossipDelta(delta: delta, deltaSeq: 1))))
        func aheadReported() async throws -> Bool {
            let status = try await offPool({ try admin.get("/v1/status") })
            return (status?["quorum"]?["members"]?.arrayElements ?? []).contains {
                $0["name"]?.stringValue == "edge-b" && ($0["clockAheadMs"]?.numberValue ?? 0) >= Double(hour - 60_000)
                    && $0["live"]?.boolValue == false
            }
        }
        try await RawPeerConnection.with(port: peerPort) { connection in
            let key = try await connection.requireSession(from: "edge-b", to: "edge-a", site: "plant-1", key: Self.key)
            try await connection.write(PeerWire.frame(PeerWire.data(counter: 1, body: gossip, sessionKey: key)))
            var counter: UInt64 = 1
            var reported = false
            let deadline = ContinuousClock.now + .seconds(30)
            // Heartbeats from the same clock, as edge-b would keep sending them.
            while !reported && ContinuousClock.now < deadline {
                counter += 1
                let beat = Self.heartbeat(from: "edge-b", sequence: counter, aheadBy: hour)
                try await connection.write(PeerWire.frame(PeerWire.data(counter: counter, body: beat, sessionKey: key)))
                try await Task.sleep(for: .milliseconds(100))  // the heartbeat period
                reported = try await aheadReported()
            }
            #expect(reported, "edge-b reported an hour ahead and not live in /v1/status\n\(site.log.suffix(2_000))")
            // The metric follows the node's once-a-second clock check.
            let counted = await pollUntil {
                (try? await offPool({ try site.metric(#"fogline_peer_frames_rejected_total{reason="clock_ahead"}"#) })).flatMap { $0 } ?? 0 >= 2
            }
            #expect(counted, "the gossip frame and the heartbeats are counted in /metrics")
        }
        #expect(site.log.contains("rejecting a peer whose clock runs ahead"), "the log names it")
        // Nothing of it was applied: no device th-1, and the node's HLC follows its own wall clock.
        #expect(try await requestOffPool(port: site.adminPort, "GET", "/v1/devices/th-1").status == 404)
        let status = try await offPool({ try admin.get("/v1/status") })
        let hlc = try #require(status?["hlc"]?.stringValue.flatMap { HLCTimestamp($0) })
        #expect(hlc.milliseconds < UInt64(Date().timeIntervalSince1970 * 1_000) + 60_000, "HLC \(hlc) was not pulled ahead")
    }

    @Test("a device that floods malformed, oversized, too deep and misaddressed messages is refused and counted; honest devices are still ingested; memory stays bounded")
    func hostileDevice() async throws {
        let site = try EdgeUnderTest()
        try await offPool({ try site.startEdge(configuration: "devices:\n  max_payload_bytes: 4096\n") })
        let residentBefore = try #require(site.edge?.residentBytes)

        var configuration = MQTTClientConfiguration(host: "127.0.0.1", port: site.broker.port, clientID: "hostile-device")
        configuration.sendMaximum = 200
        var logger = Logger(label: "test.hostile-device")
        logger.logLevel = .critical
        let device = try MQTTClient(configuration: configuration, logger: logger)
        device.start()
        try await device.waitUntilConnected(timeout: .seconds(20))
        let telemetry = FoglineTopic.device(site: "plant-1", device: "hostile-1", .telemetry).string
        let floods: [(reason: String, count: Int, topic: String, payload: [UInt8])] = [
            ("invalid_json", 4_000, telemetry, Array(#"{"seq":1,"values":{"#.utf8)),
            ("wrong_type", 2_000, telemetry, Array(#"{"seq":"one","values":{}}"#.utf8)),
            ("too_deep", 500, telemetry, Array(String(repeating: #"{"a":"#, count: 600).utf8)),
            ("oversized", 1_500, telemetry, Array(repeating: UInt8(ascii: "x"), count: 60_000)),
            ("invalid_topic", 1_000, "fogline/v1/plant-1/dev/bad$device/telemetry", Array(#"{"seq":1,"values":{}}"#.utf8)),
        ]
        // Several publishes in flight at once; each awaited until the broker has it.
        for flood in floods {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<flood.count {
                    if index >= 64 { try await group.next() }
                    group.addTask { try await device.publish(MQTTMessage(topic: flood.topic, payload: flood.payload, qos: .atLeastOnce)) }
                }
                try await group.waitForAll()
            }
        }
        let total = Double(floods.reduce(0) { $0 + $1.count })
        let reasons = floods.map(\.reason)
        @Sendable func rejections() throws -> (sum: Double, byReason: [String: Double], dropped: Double) {
            var byReason: [String: Double] = [:]
            for reason in reasons {
                byReason[reason] = try site.metric(#"fogline_rejected_messages_total{reason="\#(reason)"}"#) ?? 0
            }
            let dropped = try site.metric("fogline_mqtt_incoming_dropped_total") ?? 0
            return (byReason.values.reduce(0, +), byReason, dropped)
        }
        // Every hostile message is either rejected with its reason or, had the node fallen
        // behind, dropped at its bounded inbox — counted either way.
        let accounted = await pollUntil(timeout: .seconds(60)) {
            guard let counts = try? await offPool(rejections) else { return false }
            return counts.sum + counts.dropped == total
        }
        let final = try await offPool(rejections)
        #expect(accounted, "\(final) for \(Int(total)) messages")
        for flood in floods { #expect(final.byReason[flood.reason, default: 0] > 0, "nothing counted as \(flood.reason)") }
        if final.dropped == 0 {
            for flood in floods { #expect(final.byReason[flood.reason] == Double(flood.count), "\(flood.reason)") }
        }

        // Still serving: an honest device's birth and reading are ingested, and the node is healthy.
        let honest = FoglineTopic.device(site: "plant-1", device: "honest-1", .telemetry).string
        try await device.publish(MQTTMessage(
            topic: FoglineTopic.device(site: "plant-1", device: "honest-1", .birth).string,
            payload: Array(#"{"profile":"thermostat"}"#.utf8), qos: .atLeastOnce))
        try await device.publish(MQTTMessage(topic: honest, payload: Array(#"{"seq":0,"values":{"temp":21}}"#.utf8), qos: .atLeastOnce))
        let admin = AdminClient(port: site.adminPort)
        let ingested = await pollUntil {
            (try? await offPool({ try admin.get("/v1/devices/honest-1") }))??["telemetry"]?["received"]?.numberValue == 1
        }
        #expect(ingested)
        let health = try await offPool({ try HTTPTestClient.request(port: site.adminPort, method: "GET", path: "/healthz").status })
        #expect(health == 200)
        let residentAfter = try #require(site.edge?.residentBytes)
        #expect(residentAfter - residentBefore < Self.memoryGrowthBound, "RSS \(residentBefore) → \(residentAfter) bytes")
        await device.disconnect()
    }
}
