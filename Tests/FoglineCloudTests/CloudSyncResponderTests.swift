import Crypto
import FoglineCloud
import FoglineCore
import FoglineWire
import Testing

/// Frames and states shared by the responder and shell tests.
enum SyncFixtures {
    static let site = "plant-1"
    static let node = "edge-a"
    static let peer = SyncPeer(site: site, node: node)
    static let edgeKey = Curve25519.Signing.PrivateKey()
    static let writer = NodeID(name: node)

    static func configuration(acceptUnsigned: Bool = false, maxPartBytes: Int = 256 << 10) -> CloudSyncResponder.Configuration {
        .init(nodeKeys: [site: [node: edgeKey.publicKey]], acceptUnsigned: acceptUnsigned, maxPartBytes: maxPartBytes)
    }

    static func stamp(_ milliseconds: UInt64, _ node: NodeID = writer) -> HLCTimestamp {
        HLCTimestamp(milliseconds: milliseconds, counter: 0, node: node)
    }

    /// An edge state with a reported and a desired write and one telemetry reading of `th-1`.
    static func edgeState() -> SiteState {
        var state = SiteState()
        _ = state.set(.registry, device: "th-1", fields: [("profile", .string("thermostat"))], stamp: stamp(1_000))
        _ = state.set(.reported, device: "th-1", fields: [("temp", .number(21.5))], stamp: stamp(1_001))
        _ = state.set(.desired, device: "th-1", fields: [("setpoint", .number(20))], stamp: stamp(1_002))
        _ = state.setPresence(device: "th-1", online: true, stamp: stamp(1_003))
        _ = state.recordTelemetry(
            device: "th-1", epoch: 1, seq: 0, deviceTime: nil, values: [.init(name: "temp", value: 21.5)], stamp: stamp(1_004), keepRaw: true)
        return state
    }

    static func frame(_ body: Fogline_V1_SyncFrame.OneOf_Body, batchID: UInt64 = 0, node: String = node, sign key: Curve25519.Signing.PrivateKey? = edgeKey) throws -> [UInt8] {
        var frame = Fogline_V1_SyncFrame(site: site, node: node, batchID: batchID, body: body)
        if let key { try SyncFrameSignature.sign(&frame, with: key) }
        return SyncFrameCodec.encode(frame)
    }

    static func hello(_ summary: ReplicaSummary, wantsReply: Bool) -> Fogline_V1_SyncFrame.OneOf_Body {
        var hello = Fogline_V1_SyncHello(summary: summary)
        hello.wantsReply = wantsReply
        return .hello(hello)
    }

    /// The frames of `actions`, in order.
    static func frames(_ actions: [SyncAction]) -> [(topic: String, frame: Fogline_V1_SyncFrame)] {
        actions.map { action in
            switch action { case .publish(let topic, let frame): (topic, frame) }
        }
    }

    /// Decodes the batch carried by `actions` (all parts), with its base.
    static func batch(in actions: [SyncAction], responder: CloudSyncResponder) throws -> (id: UInt64, base: CausalContext, delta: SiteDelta)? {
        let parts: [StoredBatchPart] = frames(actions).compactMap { _, frame in
            guard case .batch(let part) = frame.body else { return nil }
            let base = part.partIndex == 0 && part.hasBase ? CausalContextCodec.encode((try? part.base.toCausalContext()) ?? CausalContext()) : []
            return StoredBatchPart(
                batchID: part.batchID, index: part.partIndex, count: part.partCount, compression: part.compression.rawValue, base: base,
                payload: [UInt8](part.payload), receivedWallMilliseconds: 0)
        }
        guard let first = parts.first else { return nil }
        let (base, delta, _) = try responder.assemble(parts)
        return (first.batchID, base, delta)
    }
}

@Suite("Cloud sync responder")
struct CloudSyncResponderTests {
    typealias F = SyncFixtures

    func responder(_ configuration: CloudSyncResponder.Configuration = F.configuration()) -> CloudSyncResponder {
        CloudSyncResponder(configuration: configuration, batchIDPrefix: 7)
    }

    func accept(_ responder: CloudSyncResponder, _ payload: [UInt8], topic: String = F.peer.upTopic) throws -> InboundSyncFrame {
        try responder.receive(topic: topic, payload: payload, receivedAt: 5).get()
    }

    func rejection(_ responder: CloudSyncResponder, _ payload: [UInt8], topic: String = F.peer.upTopic) -> SyncRejectReason? {
        if case .failure(let rejection) = responder.receive(topic: topic, payload: payload, receivedAt: 5) { return rejection.reason }
        return nil
    }

    @Test("a signed hello that wants a reply gets our hello, then a batch of what the edge lacks, based on its summary")
    func helloWithReply() throws {
        var responder = responder()
        var cloud = SiteState()
        _ = cloud.set(.desired, device: "th-1", fields: [("setpoint", .number(22))], stamp: F.stamp(2_000, NodeID(name: "cloud.x")))
        let edge = F.edgeState()
        let inbound = try accept(responder, try F.frame(F.hello(edge.summary, wantsReply: true)))
        #expect(inbound.kind == "hello")
        #expect(inbound.event == .hello(edge.summary, wantsReply: true))
        let actions = responder.hello(
            from: F.peer, summary: edge.summary, wantsReply: true, local: cloud.summary,
            catchUp: cloud.batch(since: edge.summary, maxEntries: 5_000))
        let frames = F.frames(actions)
        #expect(frames.count == 2)
        #expect(frames.allSatisfy { $0.topic == "fogline/v1/sync/plant-1/edge-a/down" })
        guard case .hello(let hello) = frames[0].frame.body else {
            Issue.record("the first frame is not a hello")
            return
        }
        #expect(try hello.toReplicaSummary() == cloud.summary)
        #expect(!hello.wantsReply)
        let batch = try #require(try F.batch(in: actions, responder: responder))
        #expect(batch.base == edge.summary.context)
        #expect(batch.id >> 32 == 7, "batch ids carry the instance's prefix")
        var merged = edge
        merged.merge(batch.delta)
        #expect(merged.desired.value("setpoint", of: "th-1") == .number(22))
        #expect(responder.knownSummary(of: F.peer) == edge.summary)
    }

    @Test("a hello without wantsReply from an edge that lacks nothing gets no answer")
    func helloNothingToSend() throws {
        var responder = responder()
        let edge = F.edgeState()
        let actions = responder.hello(from: F.peer, summary: edge.summary, wantsReply: false, local: edge.summary, catchUp: nil)
        #expect(actions.isEmpty)
    }

    @Test("an ack of our batch sends the next batch from the ack's summary; nothing when the edge lacks nothing")
    func ackSendsNext() throws {
        var responder = responder()
        var cloud = SiteState()
        let cloudWriter = NodeID(name: "cloud.x")
        _ = cloud.set(.desired, device: "th-1", fields: [("a", .number(1))], stamp: F.stamp(2_000, cloudWriter))
        let edgeBefore = SiteState()
        _ = responder.hello(from: F.peer, summary: edgeBefore.summary, wantsReply: false, local: cloud.summary, catchUp: nil)
        // The edge merged up to `a`; the cloud has written `b` since.
        var edgeAfter = edgeBefore
        edgeAfter.merge(cloud.asDelta)
        _ = cloud.set(.desired, device: "th-1", fields: [("b", .number(2))], stamp: F.stamp(2_001, cloudWriter))
        let ack = try accept(responder, try F.frame(.ack(Fogline_V1_SyncAck(batchID: 9, summary: edgeAfter.summary)), batchID: 9))
        #expect(ack.event == .ack(batchID: 9, summary: edgeAfter.summary, refused: false))
        let actions = responder.acknowledged(
            from: F.peer, summary: edgeAfter.summary, refused: false, local: cloud.summary,
            next: cloud.batch(since: edgeAfter.summary, maxEntries: 5_000))
        let batch = try #require(try F.batch(in: actions, responder: responder))
        #expect(batch.base == edgeAfter.summary.context)
        #expect(batch.delta.desired?.value("b", of: "th-1") == .number(2))
        #expect(batch.delta.desired?.value("a", of: "th-1") == nil, "only what the ack says the edge lacks")
        #expect(responder.knownSummary(of: F.peer) == edgeAfter.summary)

        var edgeDone = edgeAfter
        edgeDone.merge(batch.delta)
        let done = responder.acknowledged(
            from: F.peer, summary: edgeDone.summary, refused: false, local: cloud.summary,
            next: cloud.batch(since: edgeDone.summary, maxEntries: 5_000))
        #expect(done.isEmpty)
    }

    @Test("a refused batch is sent again, computed from what the refusing ack says the edge holds")
    func refusedAckResends() throws {
        var responder = responder()
        var cloud = SiteState()
        _ = cloud.set(.desired, device: "th-1", fields: [("a", .number(1))], stamp: F.stamp(2_000, NodeID(name: "cloud.x")))
        let edge = SiteState()
        let inbound = try accept(
            responder, try F.frame(.ack(Fogline_V1_SyncAck(batchID: 3, summary: edge.summary, refused: true)), batchID: 3))
        #expect(inbound.event == .ack(batchID: 3, summary: edge.summary, refused: true))
        let actions = responder.acknowledged(
            from: F.peer, summary: edge.summary, refused: true, local: cloud.summary,
            next: cloud.batch(since: edge.summary, maxEntries: 5_000))
        let batch = try #require(try F.batch(in: actions, responder: responder))
        #expect(batch.base == edge.summary.context)
        #expect(batch.delta.desired?.value("a", of: "th-1") == .number(1))
    }

    @Test("a batch whose base the store holds is merged and acked with the summary after the merge")
    func batchMergedAndAcked() throws {
        var responder = responder()
        let edge = F.edgeState()
        let parts = SyncBatchCodec.encode(edge.asDelta, batchID: 41, maxPartBytes: 1 << 20)
        #expect(parts.count == 1)
        var part = parts[0]
        part.base = Fogline_V1_CausalContext(CausalContext())
        let inbound = try accept(responder, try F.frame(.batch(part), batchID: 41))
        guard case .batchPart(let stored) = inbound.event else {
            Issue.record("not a batch part: \(inbound.event)")
            return
        }
        #expect(stored.receivedWallMilliseconds == 5)
        let (base, delta, _) = try responder.assemble([stored])
        #expect(base == CausalContext())
        #expect(delta == edge.asDelta)
        let group = responder.group(
            [ReceivedBatch(peer: F.peer, batchID: 41, base: base, delta: delta)], local: SiteState().summary)
        #expect(group.admitted.map(\.batchID) == [41] && group.refused.isEmpty)
        var cloud = SiteState()
        cloud.merge(delta)
        let frames = F.frames(responder.merged(group, summary: cloud.summary))
        #expect(frames.count == 1)
        #expect(frames[0].topic == F.peer.downTopic)
        #expect(frames[0].frame.batchID == 41)
        guard case .ack(let ack) = frames[0].frame.body else {
            Issue.record("not an ack")
            return
        }
        #expect(ack.batchID == 41 && !ack.refused)
        #expect(try ack.toReplicaSummary() == cloud.summary)
    }

    @Test("a batch whose base the store does not hold is refused with our summary")
    func batchRefused() throws {
        var responder = responder()
        let edge = F.edgeState()
        let cloud = SiteState()
        let group = responder.group(
            [ReceivedBatch(peer: F.peer, batchID: 8, base: edge.summary.context, delta: edge.asDelta)], local: cloud.summary)
        #expect(group.admitted.isEmpty && group.refused.map(\.batchID) == [8])
        let frames = F.frames(responder.merged(group, summary: cloud.summary))
        guard frames.count == 1, case .ack(let ack) = frames[0].frame.body else {
            Issue.record("no refusing ack")
            return
        }
        #expect(ack.refused && ack.batchID == 8)
        #expect(try ack.toReplicaSummary() == cloud.summary)
    }

    @Test("batches that arrive together are admitted in order, each on the ones before it; the others are refused")
    func groupAdmission() throws {
        var responder = responder()
        var edge = SiteState()
        for index in 0..<3 {
            _ = edge.set(.reported, device: "th-\(index)", fields: [("temp", .number(Double(index)))], stamp: F.stamp(1_000 + UInt64(index)))
        }
        // As the edge pipelines them: each batch's base covers the batches sent before it.
        var assumed = SiteState().summary
        var batches: [ReceivedBatch] = []
        for id in 1...3 {
            let delta = try #require(edge.batch(since: assumed, maxEntries: 1))
            batches.append(ReceivedBatch(peer: F.peer, batchID: UInt64(id), base: assumed.context, delta: delta))
            assumed.context.formUnion(delta.context)
        }
        // Batch 4 builds on a batch that never arrived.
        let lost = CausalContext([Dot(node: F.writer, counter: 99)])
        batches.insert(ReceivedBatch(peer: F.peer, batchID: 4, base: lost, delta: batches[2].delta), at: 1)
        let group = responder.group(batches, local: SiteState().summary)
        #expect(group.admitted.map(\.batchID) == [1, 2, 3])
        #expect(group.refused.map(\.batchID) == [4])
        #expect(responder.group(Array(batches[2...]), local: SiteState().summary).admitted.isEmpty,
                "without batch 1, batch 2 (and so 3) builds on what the store lacks")
        var cloud = SiteState()
        for delta in group.deltas { cloud.merge(delta) }
        #expect(cloud.summary == edge.summary)
        let acks = F.frames(responder.merged(group, summary: cloud.summary)).compactMap { frame -> Fogline_V1_SyncAck? in
            if case .ack(let ack) = frame.frame.body { ack } else { nil }
        }
        #expect(acks.map(\.batchID) == [1, 2, 3, 4])
        #expect(acks.map(\.refused) == [false, false, false, true])
        #expect(try acks.allSatisfy { try $0.toReplicaSummary() == cloud.summary })
    }

    @Test("a multi-part, deflated batch decodes once its parts are put together, whatever order they came in")
    func multiPart() throws {
        let responder = responder()
        var state = SiteState()
        for index in 0..<200 {
            _ = state.set(.reported, device: "d-\(index)", fields: [("value", .number(Double(index)))], stamp: F.stamp(1_000 + UInt64(index)))
        }
        let parts = SyncBatchCodec.encode(state.asDelta, batchID: 77, maxPartBytes: 300)
        #expect(parts.count > 2)
        var stored: [StoredBatchPart] = []
        for var part in parts.reversed() {
            if part.partIndex == 0 { part.base = Fogline_V1_CausalContext(CausalContext([Dot(node: F.writer, counter: 1)])) }
            let inbound = try accept(responder, try F.frame(.batch(part), batchID: 77))
            guard case .batchPart(let kept) = inbound.event else { throw Failure("not a batch part") }
            stored.append(kept)
        }
        let (base, delta, _) = try responder.assemble(stored)
        #expect(base == CausalContext([Dot(node: F.writer, counter: 1)]))
        #expect(delta == state.asDelta)
        #expect(throws: WireError.self) { try responder.assemble(Array(stored.dropFirst())) }
    }

    @Test("audit entries are acknowledged with the index stored through")
    func auditAck() throws {
        let responder = responder()
        var chain = AuditChain(node: F.node)
        let entry = chain.append(at: F.stamp(3_000), kind: "kv", key: "mode", detail: "v1")
        var audit = Fogline_V1_SyncAudit()
        audit.entries = [Fogline_V1_AuditRecord(entry)]
        let inbound = try accept(responder, try F.frame(.audit(audit)))
        #expect(inbound.event == .audit([entry]))
        let frames = F.frames(responder.auditStored(from: F.peer, through: 1))
        guard frames.count == 1, case .auditAck(let ack) = frames[0].frame.body else {
            Issue.record("no audit_ack")
            return
        }
        #expect(ack.storedThrough == 1)
        #expect(frames[0].topic == F.peer.downTopic)
    }

    @Test("frames from unknown nodes, unsigned or forged frames and garbage are rejected with their reason")
    func rejections() throws {
        let responder = responder()
        let hello = F.hello(SiteState().summary, wantsReply: true)
        #expect(rejection(responder, try F.frame(hello, node: "edge-z"), topic: "fogline/v1/sync/plant-1/edge-z/up") == .unknownNode)
        #expect(rejection(responder, try F.frame(hello, sign: nil)) == .badSignature)
        #expect(rejection(responder, try F.frame(hello, sign: Curve25519.Signing.PrivateKey())) == .badSignature)
        var tampered = try SyncFrameCodec.decode(try F.frame(hello))
        tampered.batchID = 99
        #expect(rejection(responder, SyncFrameCodec.encode(tampered)) == .badSignature)
        #expect(rejection(responder, [0xff, 0x01, 0x02]) == .malformed)
        #expect(rejection(responder, try F.frame(hello), topic: "fogline/v1/sync/plant-1/edge-b/up") == .malformed)
        #expect(rejection(responder, try F.frame(hello), topic: "fogline/v1/sync/plant-1/edge-a/down") == .malformed)
        #expect(rejection(responder, try F.frame(hello)) == nil)
        let huge = Fogline_V1_SyncBatch(batchID: 4, partIndex: 0, partCount: 1_000_000, payload: [1])
        #expect(rejection(responder, try F.frame(.batch(huge), batchID: 4)) == .malformed)
    }

    @Test("accept_unsigned takes unsigned frames from nodes not configured")
    func acceptUnsigned() throws {
        let responder = responder(F.configuration(acceptUnsigned: true))
        let inbound = try accept(
            responder, try F.frame(F.hello(SiteState().summary, wantsReply: true), node: "edge-z", sign: nil),
            topic: "fogline/v1/sync/plant-1/edge-z/up")
        #expect(inbound.peer == SyncPeer(site: "plant-1", node: "edge-z"))
    }

    @Test("after a cloud write, nodes whose summary is known get a batch based on it; others get nothing")
    func pushAfterWrite() throws {
        var responder = responder()
        let edge = F.edgeState()
        var cloud = edge
        _ = responder.hello(from: F.peer, summary: edge.summary, wantsReply: false, local: cloud.summary, catchUp: nil)
        _ = cloud.set(.desired, device: "th-1", fields: [("setpoint", .number(23))], stamp: F.stamp(5_000, NodeID(name: "cloud.x")))
        #expect(responder.knownNodes(of: F.site).map(\.node) == [F.node])
        #expect(responder.knownNodes(of: "elsewhere").isEmpty)
        let actions = responder.push(to: F.peer, local: cloud.summary, batch: cloud.batch(since: edge.summary, maxEntries: 5_000))
        let batch = try #require(try F.batch(in: actions, responder: responder))
        #expect(batch.base == edge.summary.context)
        #expect(batch.delta.desired?.value("setpoint", of: "th-1") == .number(23))
        let stranger = SyncPeer(site: F.site, node: "edge-b")
        #expect(responder.push(to: stranger, local: cloud.summary, batch: cloud.batch(since: SiteState().summary, maxEntries: 10)).isEmpty)
    }

    @Test("an alarm kernel the edge already merged is not sent again and again")
    func alarmKernelOnce() throws {
        var responder = responder()
        var cloud = SiteState()
        _ = cloud.raise(Alarm(device: "th-1", code: "overtemp"), by: NodeID(name: "cloud.x"))
        // The edge holds every dot of ours plus an alarm of its own, so kernels differ.
        var edge = cloud
        _ = edge.raise(Alarm(device: "th-2", code: "door"), by: F.writer)
        _ = responder.hello(from: F.peer, summary: edge.summary, wantsReply: false, local: cloud.summary, catchUp: nil)
        let first = responder.acknowledged(
            from: F.peer, summary: edge.summary, refused: false, local: cloud.summary,
            next: cloud.batch(since: edge.summary, maxEntries: 5_000))
        #expect(!first.isEmpty, "the kernel goes once")
        let again = responder.acknowledged(
            from: F.peer, summary: edge.summary, refused: false, local: cloud.summary,
            next: cloud.batch(since: edge.summary, maxEntries: 5_000))
        #expect(again.isEmpty, "and not back and forth")
    }

    @Test("batch ids are unique within an instance")
    func batchIDs() throws {
        var responder = responder()
        var cloud = SiteState()
        var ids = Set<UInt64>()
        for index in 0..<5 {
            _ = cloud.set(.desired, device: "d", fields: [("f\(index)", .number(1))], stamp: F.stamp(1_000 + UInt64(index), NodeID(name: "cloud.x")))
            let actions = responder.acknowledged(
                from: F.peer, summary: SiteState().summary, refused: false, local: cloud.summary,
                next: cloud.batch(since: SiteState().summary, maxEntries: 5_000))
            ids.insert(try #require(try F.batch(in: actions, responder: responder)).id)
        }
        #expect(ids.count == 5)
    }
}

struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
