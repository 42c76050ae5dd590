import Crypto
import FoglineCore
import FoglineMQTT
import FoglineTesting
import FoglineWire
import Foundation
import Synchronization
import Testing

/// Runs the real `fogline-cloud serve` against a real Mosquitto the test starts, and plays an edge
/// node over MQTT: signed frames in, the aggregator's answers out, the HTTP API in between.
@Suite("fogline-cloud process", .serialized)
final class CloudProcessTests {
    let broker: MosquittoProcess
    let directory: URL
    let httpPort: Int
    let edgeKey = Curve25519.Signing.PrivateKey()
    var cloud: ProgramProcess?

    init() throws {
        broker = try MosquittoProcess()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fogline-cloud-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        httpPort = try MosquittoProcess.freeLoopbackPort()
    }

    deinit {
        cloud?.stop()
        broker.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    func startCloud() throws {
        cloud = try startInstance("it-cloud", httpPort: httpPort, database: "sqlite:\(directory.appendingPathComponent("cloud.sqlite").path)")
    }

    /// Starts one `fogline-cloud serve` with this test's broker and edge key.
    func startInstance(_ instance: String, httpPort: Int, database: String, extra: String = "") throws -> ProgramProcess {
        let config = directory.appendingPathComponent("\(instance).yaml")
        try """
        instance: \(instance)
        sync:
          max_part_bytes: 65536
        sites:
          plant-1:
            nodes:
              edge-a: \(SigningKeyText.text(of: edgeKey.publicKey))
        log_level: debug
        \(extra)
        """.write(to: config, atomically: true, encoding: .utf8)
        // A PostgreSQL URL carries its password, which `--db` refuses: it goes in the environment.
        let postgres = database.hasPrefix("postgres")
        return try ProgramProcess(
            "fogline-cloud",
            arguments: ["serve", "--config", config.path, "--broker", broker.url, "--http", "127.0.0.1:\(httpPort)"]
                + (postgres ? [] : ["--db", database]),
            environment: postgres ? ["FOGLINE_DATABASE_URL": database] : [:], logDirectory: directory)
    }

    func get(_ path: String, port: Int? = nil) throws -> HTTPTestClient.Response {
        try HTTPTestClient.request(port: port ?? httpPort, method: "GET", path: path)
    }

    func metric(_ line: String, port: Int? = nil) throws -> Double? {
        prometheusValue(of: line, in: try get("/metrics", port: port).text)
    }

    func frame(_ body: Fogline_V1_SyncFrame.OneOf_Body, batchID: UInt64 = 0, sign key: Curve25519.Signing.PrivateKey?) throws -> [UInt8] {
        var frame = Fogline_V1_SyncFrame(site: "plant-1", node: "edge-a", batchID: batchID, body: body)
        if let key { try SyncFrameSignature.sign(&frame, with: key) }
        return SyncFrameCodec.encode(frame)
    }

    @Test("an edge's signed hello and batch are merged and acked; the API shows them; a cloud write comes down; forged frames are counted, not merged")
    func edgeRoundTrip() async throws {
        try startCloud()
        let up = "fogline/v1/sync/plant-1/edge-a/up"
        let link = try await FakeEdgeLink(brokerURL: broker.url)
        defer { withExtendedLifetime(link) {} }
        let (edge, received) = (link.client, link.received)
        func publish(_ payload: [UInt8]) async throws {
            try await edge.publish(MQTTMessage(topic: up, payload: payload, qos: .atLeastOnce))
        }
        func waitFor(_ what: String, seconds: Double = 20, _ match: (Fogline_V1_SyncFrame) -> Bool) async throws -> Fogline_V1_SyncFrame {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if let frame = received.frames.withLock({ $0.first(where: match) }) { return frame }
                try await Task.sleep(for: .milliseconds(25))
            }
            throw ProgramProcess.Failure.deadline("\(what)\n\(cloud?.log ?? "")")
        }

        var state = SyncFixtures.edgeState()
        _ = state.set(.reported, device: "th-1", fields: [("mode", .string("heat"))], stamp: SyncFixtures.stamp(1_100))
        var hello = Fogline_V1_SyncHello(summary: state.summary)
        hello.wantsReply = true
        // The aggregator subscribes shortly after it starts: say hello until it answers.
        let deadline = Date().addingTimeInterval(30)
        var cloudHello: Fogline_V1_SyncHello?
        while cloudHello == nil, Date() < deadline {
            try await publish(try frame(.hello(hello), sign: edgeKey))
            if let answer = try? await waitFor("the cloud's hello", seconds: 1, { if case .hello = $0.body { true } else { false } }),
                case .hello(let body) = answer.body
            {
                cloudHello = body
            }
        }
        let cloudSummary = try #require(try cloudHello?.toReplicaSummary(), "no hello from fogline-cloud:\n\(cloud?.log ?? "")")
        #expect(cloudSummary.context.isEmpty)

        var part = try #require(SyncBatchCodec.encode(state.asDelta, batchID: 501, maxPartBytes: 65_536).first)
        part.base = Fogline_V1_CausalContext(cloudSummary.context)
        try await publish(try frame(.batch(part), batchID: 501, sign: edgeKey))
        let ackFrame = try await waitFor("the ack of batch 501") { if case .ack(let ack) = $0.body { ack.batchID == 501 } else { false } }
        guard case .ack(let ack) = ackFrame.body else { return }
        #expect(!ack.refused)
        #expect(try ack.toReplicaSummary().context.includes(state.summary.context))

        let device = try StrictJSON.parse(try get("/v1/sites/plant-1/devices/th-1").body)
        #expect(device["reported"]?["mode"]?.stringValue == "heat")
        #expect(device["telemetry"]?["received"]?.numberValue == 1)
        #expect(device["rollups"]?.arrayElements?.count == 1)
        let sites = try StrictJSON.parse(try get("/v1/sites").body)
        #expect(sites[0]?["nodes"]?[0]?["lastSyncMs"]?.numberValue != nil)

        // A cloud write goes down to the node whose summary the aggregator knows.
        let put = try HTTPTestClient.request(
            port: httpPort, method: "PUT", path: "/v1/sites/plant-1/devices/th-1/desired", body: Array(#"{"fields":{"setpoint":24}}"#.utf8))
        #expect(put.status == 200, "\(put.text)")
        let down = try await waitFor("a batch carrying the cloud's desired write") { frame in
            guard case .batch(let batch) = frame.body, batch.partCount == 1, batch.compression == .none || batch.compression == .deflate
            else { return false }
            let payload = batch.compression == .deflate ? (try? Deflate.decompress([UInt8](batch.payload), maxBytes: 1 << 20)) : [UInt8](batch.payload)
            guard let payload, let delta = try? SiteDeltaCodec.decode(payload) else { return false }
            return delta.desired?.value("setpoint", of: "th-1") == .number(24)
        }
        guard case .batch(let pushed) = down.body else { return }
        #expect(try pushed.base.toCausalContext().includes(state.summary.context), "based on what the edge holds")

        // Forged and unsigned frames: counted, never merged.
        var forged = SiteState()
        _ = forged.set(.reported, device: "intruder", fields: [("x", .number(1))], stamp: SyncFixtures.stamp(1_200))
        var forgedPart = try #require(SyncBatchCodec.encode(forged.asDelta, batchID: 502, maxPartBytes: 65_536).first)
        forgedPart.base = Fogline_V1_CausalContext(CausalContext())
        try await publish(try frame(.batch(forgedPart), batchID: 502, sign: Curve25519.Signing.PrivateKey()))
        try await publish(try frame(.batch(forgedPart), batchID: 502, sign: nil))
        try waitUntil("two frames rejected for their signature") {
            try metric(#"fogline_cloud_rejected_frames_total{reason="bad_signature"}"#) == 2
        }
        #expect(try get("/v1/sites/plant-1/devices/intruder").status == 404)
        #expect(try metric("fogline_cloud_merges_total") == 2, "the edge's batch and the cloud write")
        let ackedForged = received.frames.withLock { frames in
            frames.contains { frame in if case .ack(let ack) = frame.body { ack.batchID == 502 } else { false } }
        }
        #expect(!ackedForged)

        await edge.disconnect()
        #expect(cloud?.stop(signal: SIGTERM) == 0, "a clean exit on SIGTERM:\n\(cloud?.log ?? "")")
    }
}

extension CloudProcessTests {
    @Test(
        "two instances share the subscription and a PostgreSQL database: a batch's parts split between them are merged and acked once",
        .enabled(if: ProcessInfo.processInfo.environment["FOGLINE_TEST_POSTGRES_URL"] != nil, "set FOGLINE_TEST_POSTGRES_URL to run"))
    func scaleOut() async throws {
        let url = try #require(ProcessInfo.processInfo.environment["FOGLINE_TEST_POSTGRES_URL"])
        let schema = "scale_" + UUID().uuidString.prefix(8).lowercased()
        let secondPort = try MosquittoProcess.freeLoopbackPort()
        cloud = try startInstance("it-one", httpPort: httpPort, database: url, extra: "postgres_schema: \(schema)")
        let second = try startInstance("it-two", httpPort: secondPort, database: url, extra: "postgres_schema: \(schema)")
        defer { second.stop() }
        for port in [httpPort, secondPort] {
            try waitUntil("both instances to subscribe", seconds: 30) {
                (try? get("/healthz", port: port).status) == 200
            }
        }
        let link = try await FakeEdgeLink(brokerURL: broker.url)
        defer { withExtendedLifetime(link) {} }
        let (edge, received) = (link.client, link.received)

        var state = SiteState()
        for index in 0..<400 {
            _ = state.set(.reported, device: "d-\(index)", fields: [("v", .number(Double(index)))], stamp: SyncFixtures.stamp(1_000 + UInt64(index)))
        }
        var parts = SyncBatchCodec.encode(state.asDelta, batchID: 700, maxPartBytes: 256)
        #expect(parts.count >= 4)
        parts[0].base = Fogline_V1_CausalContext(CausalContext())
        // Until both instances receive frames (a subscription may still be on its way), send the
        // batch again: merging twice changes nothing, and each round is acked once.
        let deadline = Date().addingTimeInterval(120)
        var bothSawFrames = false
        func ackCount() -> Int {
            received.frames.withLock { $0.filter { frame in if case .ack(let ack) = frame.body { ack.batchID == 700 } else { false } }.count }
        }
        while Date() < deadline, !bothSawFrames {
            let acked = ackCount()
            for part in parts {
                try await edge.publish(MQTTMessage(topic: "fogline/v1/sync/plant-1/edge-a/up", payload: try frame(.batch(part), batchID: 700, sign: edgeKey), qos: .atLeastOnce))
            }
            // Polled with Task.sleep, not the blocking waitUntil: the reader task that records the
            // acks needs a thread of the cooperative pool, which a blocked wait would hold.
            let roundDeadline = Date().addingTimeInterval(60)
            while ackCount() <= acked {
                guard Date() < roundDeadline else {
                    Issue.record("no ack of this round's batch 700 within 60 s")
                    return
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            let one = try metric(#"fogline_cloud_sync_frames_total{kind="batch"}"#) ?? 0
            let two = try metric(#"fogline_cloud_sync_frames_total{kind="batch"}"#, port: secondPort) ?? 0
            bothSawFrames = one > 0 && two > 0
        }
        #expect(bothSawFrames, "the shared subscription spreads frames over both instances")
        let merges = (try metric("fogline_cloud_merges_total") ?? 0) + (try metric("fogline_cloud_merges_total", port: secondPort) ?? 0)
        #expect(Double(ackCount()) == merges, "one ack per merged batch, whichever instance completed it")
        for port in [httpPort, secondPort] {
            let devices = try StrictJSON.parse(try get("/v1/sites/plant-1/devices", port: port).body, limits: .init(maxBytes: 8 << 20, maxDepth: 32))
            #expect(devices.arrayElements?.count == 400)
        }
        await edge.disconnect()
    }
}

extension CloudProcessTests {
    @Test("the edge's own ReconcileSession syncs both ways with the real aggregator: its writes up, a cloud write down")
    func reconcileSessionRoundTrip() async throws {
        try startCloud()
        let up = "fogline/v1/sync/plant-1/edge-a/up"
        let link = try await FakeEdgeLink(brokerURL: broker.url)
        defer { withExtendedLifetime(link) {} }
        let (edge, received) = (link.client, link.received)
        let clock = ContinuousClock()
        let start = clock.now
        func now() -> UInt64 { UInt64((clock.now - start).components.seconds * 1_000 + (clock.now - start).components.attoseconds / 1_000_000_000_000_000) }

        var local = SyncFixtures.edgeState()
        for index in 0..<50 {
            _ = local.set(.reported, device: "s-\(index)", fields: [("v", .number(Double(index)))], stamp: SyncFixtures.stamp(2_000 + UInt64(index)))
        }
        var configuration = ReconcileSession.Configuration()
        configuration.maxBatchEntries = 20  // several batches in flight, several acks
        configuration.helloRetryMilliseconds = 500
        var session = ReconcileSession(configuration: configuration)
        var assembler = SyncBatchAssembler()
        var bases: [UInt64: CausalContext] = [:]
        var seen = 0

        func send(_ body: Fogline_V1_SyncFrame.OneOf_Body, batchID: UInt64 = 0) async throws {
            try await edge.publish(MQTTMessage(topic: up, payload: try frame(body, batchID: batchID, sign: edgeKey), qos: .atLeastOnce))
        }
        /// Runs the session until `done` holds: performs its actions, feeds it the aggregator's frames.
        func run(until what: String, _ done: () -> Bool, first: [ReconcileSession.Action] = []) async throws {
            var actions = first
            let deadline = Date().addingTimeInterval(30)
            while true {
                for action in actions {
                    switch action {
                    case .sendHello(let summary, let wantsReply):
                        var hello = Fogline_V1_SyncHello(summary: summary)
                        hello.wantsReply = wantsReply
                        try await send(.hello(hello))
                    case .sendBatch(let id, let base, let delta):
                        for var part in SyncBatchCodec.encode(delta, batchID: id, maxPartBytes: 4_096) {
                            if part.partIndex == 0 { part.base = Fogline_V1_CausalContext(base) }
                            try await send(.batch(part), batchID: id)
                        }
                    case .merge(let delta):
                        local.merge(delta)
                    case .acknowledge(let id, let merged):
                        try await send(.ack(Fogline_V1_SyncAck(batchID: id, summary: local.summary, refused: !merged)), batchID: id)
                    }
                }
                actions = []
                if done() { return }
                guard Date() < deadline else { throw ProgramProcess.Failure.deadline("\(what)\n\(cloud?.log ?? "")") }
                let frames = received.frames.withLock { Array($0[seen...]) }
                seen += frames.count
                for frame in frames {
                    switch frame.body {
                    case .hello(let hello):
                        actions += session.receivedHello(try hello.toReplicaSummary(), wantsReply: hello.wantsReply, local: local, at: now())
                    case .ack(let ack):
                        actions += session.receivedAcknowledgement(
                            id: ack.batchID, merged: !ack.refused, summary: try ack.toReplicaSummary(), local: local, at: now())
                    case .batch(let part):
                        if part.partIndex == 0 { bases[part.batchID] = try part.base.toCausalContext() }
                        if let delta = try assembler.add(part, from: "cloud", at: now()) {
                            actions += session.receivedBatch(id: part.batchID, base: bases[part.batchID] ?? CausalContext(), delta, local: local)
                        }
                    default:
                        break
                    }
                }
                actions += session.tick(local: local, at: now())
                if actions.isEmpty { try await Task.sleep(for: .milliseconds(20)) }  // poll interval, not a wait for a condition
            }
        }

        try await run(until: "the aggregator to hold every write of the edge", {
            session.phase == .open && session.batchesInFlight == 0 && session.remoteHolds.includes(local.context)
        }, first: session.connected(local: local, at: now()))
        let devices = try StrictJSON.parse(try get("/v1/sites/plant-1/devices").body)
        #expect(devices.arrayElements?.count == 51)

        let put = try HTTPTestClient.request(
            port: httpPort, method: "PUT", path: "/v1/sites/plant-1/devices/s-7/desired", body: Array(#"{"fields":{"target":7.5}}"#.utf8))
        #expect(put.status == 200, "\(put.text)")
        try await run(until: "the cloud's desired write to reach the edge") {
            local.desired.value("target", of: "s-7") == .number(7.5)
        }
        // Nothing is sent back and forth once both sides agree.
        let cloudDevice = try StrictJSON.parse(try get("/v1/sites/plant-1/devices/s-7").body)
        #expect(cloudDevice["desired"]?["target"]?.numberValue == 7.5)
        await edge.disconnect()
    }
}

/// Frames received on the edge's `down` topic, in order.
final class FrameLog: Sendable {
    let frames = Mutex<[Fogline_V1_SyncFrame]>([])
}

/// Edge `edge-a` of site `plant-1` on the sync topics: a connected MQTT client subscribed to its
/// `down` topic, whose frames it records until released.
final class FakeEdgeLink: Sendable {
    let client: MQTTClient
    let received = FrameLog()
    private let reader: Task<Void, Never>

    init(brokerURL: String) async throws {
        let client = try MQTTClient(configuration: MQTTClientConfiguration(brokerURL: brokerURL))
        client.start()
        try await client.subscribe("fogline/v1/sync/plant-1/edge-a/down", qos: .atLeastOnce)
        try await client.waitUntilConnected(timeout: .seconds(10))
        let received = received
        reader = Task {
            for await message in client.messages {
                if let frame = try? SyncFrameCodec.decode(message.payload) { received.frames.withLock { $0.append(frame) } }
            }
        }
        self.client = client
    }

    deinit { reader.cancel() }
}
