import FoglineCore
import Foundation
import FoglineTesting
import FoglineWire
import Testing

@Suite("Peer and sync frames")
struct FrameCodecTests {
    static let sentAt = HLCTimestamp(milliseconds: 1_763_800_000_123, counter: 4, node: NodeID(name: "edge-a"))

    static func context() -> CausalContext {
        let vector: [(NodeID, UInt64)] = [(NodeID(rawValue: 1), 10), (NodeID(rawValue: .max), 3)]
        var context = CausalContext(versionVector: vector)
        context.insert(Dot(node: NodeID(rawValue: 1), counter: 14))
        return context
    }

    static func summary() -> ReplicaSummary { ReplicaSummary(context: context(), kernelDigest: 0xDEAD_BEEF_0000_0001) }

    static func audit() -> Fogline_V1_SyncAudit {
        let first = AuditEntry(
            index: 1, node: "edge-a", timestamp: sentAt, kind: "lease.acquire", key: "role/cloud-uplink",
            detail: "holder=edge-a token=3", previousHash: .zero)
        var audit = Fogline_V1_SyncAudit()
        audit.entries = [Fogline_V1_AuditRecord(first)]
        return audit
    }

    @Test("an audit record converts back to the entry it was made from, and a short hash is refused")
    func auditRecords() throws {
        let record = Self.audit().entries[0]
        let entry = try record.toAuditEntry()
        #expect(entry.hash == entry.computedHash)
        #expect(Fogline_V1_AuditRecord(entry) == record)
        var short = Self.audit()
        short.entries[0].hash = Data([1, 2, 3])
        let frame = Fogline_V1_SyncFrame(site: "plant_1", node: "edge-a", body: .audit(short))
        #expect(throws: WireError.self) { try SyncFrameCodec.decode(SyncFrameCodec.encode(frame)) }
    }

    static func peerFrame(_ body: Fogline_V1_PeerFrame.OneOf_Body) -> Fogline_V1_PeerFrame {
        Fogline_V1_PeerFrame(from: "edge-a", site: "plant_1", sentAt: sentAt, body: body)
    }

    @Test("peer frames of every body round-trip")
    func peerFrames() throws {
        var random = SeededRandom(seed: 3)
        let delta = CodecWorld(&random, replicas: 2, operations: 40).replicas[0].asDelta
        var ballot = Fogline_V1_Ballot()
        ballot.counter = 7
        ballot.node = 99
        var prepare = Fogline_V1_PaxosPrepare()
        prepare.key = "lease/cloud-uplink"
        prepare.ballot = ballot
        var promise = Fogline_V1_PaxosPromise()
        promise.key = "kv/x"
        promise.ballot = ballot
        promise.acceptedBallot = ballot
        var accept = Fogline_V1_PaxosAccept()
        accept.key = "kv/x"
        accept.ballot = ballot
        var reject = Fogline_V1_PaxosReject()
        reject.key = "kv/x"
        reject.highestSeen = ballot
        var confirm = Fogline_V1_PaxosConfirm()
        confirm.key = "kv/x"
        confirm.ballot = ballot
        confirm.nonce = 12
        var confirmed = Fogline_V1_PaxosConfirmed()
        confirmed.key = "kv/x"
        confirmed.ballot = ballot
        confirmed.nonce = 12
        let bodies: [Fogline_V1_PeerFrame.OneOf_Body] = [
            .heartbeat(Fogline_V1_Heartbeat(incarnation: 2, sequence: .max)),
            .gossipDelta(Fogline_V1_GossipDelta(delta: delta, deltaSeq: 41)),
            .gossipAck(Fogline_V1_GossipAck(deltaSeq: 41, summary: Self.summary())),
            .contextExchange(Fogline_V1_ContextExchange(summary: Self.summary())),
            .paxosPrepare(prepare), .paxosPromise(promise), .paxosAccept(accept), .paxosReject(reject),
            .paxosConfirm(confirm), .paxosConfirmed(confirmed),
        ]
        for body in bodies {
            let frame = Self.peerFrame(body)
            let decoded = try PeerFrameCodec.decode(PeerFrameCodec.encode(frame))
            #expect(decoded == frame)
            #expect(decoded.schemaVersion == WireSchema.currentVersion)
            #expect(HLCTimestamp(decoded.sentAt) == Self.sentAt)
        }
        let decoded = try PeerFrameCodec.decode(PeerFrameCodec.encode(Self.peerFrame(
            .gossipDelta(Fogline_V1_GossipDelta(delta: delta, deltaSeq: 41)))))
        guard case .gossipDelta(let gossip) = decoded.body else {
            Issue.record("expected a gossip delta body")
            return
        }
        #expect(try gossip.delta.toSiteDelta() == delta)
        #expect(gossip.deltaSeq == 41)
        let ack = try PeerFrameCodec.decode(PeerFrameCodec.encode(Self.peerFrame(
            .gossipAck(Fogline_V1_GossipAck(deltaSeq: 1, summary: Self.summary())))))
        if case .gossipAck(let body) = ack.body {
            #expect(try body.toReplicaSummary() == Self.summary())
        } else {
            Issue.record("expected a gossip ack body")
        }
    }

    @Test("sync frames round-trip and batch parts are checked")
    func syncFrames() throws {
        let payload = SiteDeltaCodec.encode(SiteDelta(context: Self.context(), alarms: DotKernel()))
        let frames = [
            Fogline_V1_SyncFrame(site: "plant_1", node: "edge-a", body: .hello(Fogline_V1_SyncHello(summary: Self.summary()))),
            Fogline_V1_SyncFrame(site: "plant_1", node: "edge-a", batchID: 9,
                                 body: .batch(Fogline_V1_SyncBatch(batchID: 9, partIndex: 1, partCount: 3, payload: payload))),
            Fogline_V1_SyncFrame(site: "plant_1", node: "edge-a", batchID: 9,
                                 body: .ack(Fogline_V1_SyncAck(batchID: 9, summary: Self.summary(), refused: true))),
            Fogline_V1_SyncFrame(site: "plant_1", node: "edge-a", body: .audit(Self.audit())),
        ]
        for frame in frames {
            #expect(try SyncFrameCodec.decode(SyncFrameCodec.encode(frame)) == frame)
        }
        if case .batch(let batch) = try SyncFrameCodec.decode(SyncFrameCodec.encode(frames[1])).body {
            let delta = try SiteDeltaCodec.decode(Array(batch.payload))
            #expect(delta.alarms?.isEmpty == true)
        } else {
            Issue.record("expected a batch body")
        }

        let invalid = [
            Fogline_V1_SyncFrame(site: "plant_1", node: "edge-a", batchID: 9,
                                 body: .batch(Fogline_V1_SyncBatch(batchID: 9, partIndex: 3, partCount: 3, payload: []))),
            Fogline_V1_SyncFrame(site: "plant_1", node: "edge-a", batchID: 9,
                                 body: .batch(Fogline_V1_SyncBatch(batchID: 9, partIndex: 0, partCount: 0, payload: []))),
            Fogline_V1_SyncFrame(site: "plant_1", node: "edge-a", batchID: 8,
                                 body: .batch(Fogline_V1_SyncBatch(batchID: 9, payload: []))),
            Fogline_V1_SyncFrame(site: "plant_1", node: "edge-a", batchID: 9,
                                 body: .batch(Fogline_V1_SyncBatch(batchID: 9, payload: [], compression: .UNRECOGNIZED(7)))),
            Fogline_V1_SyncFrame(site: "plant 1", node: "edge-a", body: .hello(Fogline_V1_SyncHello(summary: ReplicaSummary(context: CausalContext(), kernelDigest: 0)))),
            Fogline_V1_SyncFrame(site: "plant_1", node: "", body: .hello(Fogline_V1_SyncHello(summary: ReplicaSummary(context: CausalContext(), kernelDigest: 0)))),
        ]
        for frame in invalid {
            #expect {
                try SyncFrameCodec.decode(SyncFrameCodec.encode(frame))
            } throws: { error in
                (error as? WireError)?.reason == "invalid_value"
            }
        }
    }

    @Test("frames from a newer (or missing) schema version are rejected with unsupported_version")
    func versions() throws {
        for version: UInt32 in [WireSchema.currentVersion + 1, 1_000] {
            var peer = Self.peerFrame(.heartbeat(Fogline_V1_Heartbeat(incarnation: 1, sequence: 1)))
            peer.schemaVersion = version
            #expect {
                try PeerFrameCodec.decode(PeerFrameCodec.encode(peer))
            } throws: { error in
                (error as? WireError) == .unsupportedVersion(found: version, newestSupported: WireSchema.currentVersion)
            }
            var sync = Fogline_V1_SyncFrame(site: "s", node: "n", body: .hello(Fogline_V1_SyncHello(summary: ReplicaSummary(context: CausalContext(), kernelDigest: 0))))
            sync.schemaVersion = version
            #expect {
                try SyncFrameCodec.decode(SyncFrameCodec.encode(sync))
            } throws: { error in
                (error as? WireError)?.reason == "unsupported_version"
            }
        }
        // A frame without a version (field 1 absent).
        var unversioned = Self.peerFrame(.heartbeat(Fogline_V1_Heartbeat(incarnation: 1, sequence: 1)))
        unversioned.schemaVersion = 0
        var bytes: [UInt8] = try unversioned.serializedBytes()
        #expect {
            try PeerFrameCodec.decode(bytes)
        } throws: { error in
            (error as? WireError) == .unsupportedVersion(found: 0, newestSupported: WireSchema.currentVersion)
        }
        // The current version is accepted, and so are unknown fields (a newer minor addition).
        unversioned.schemaVersion = WireSchema.currentVersion
        bytes = try unversioned.serializedBytes()
        let withUnknown = bytes + [0xF0, 0x01, 0x05] + [0xAA, 0x02, 0x02, 0x68, 0x69]  // field 30 varint, field 37 bytes
        #expect(try PeerFrameCodec.decode(withUnknown) == unversioned)
    }

    @Test("peer frame envelopes are validated")
    func peerEnvelope() throws {
        var badNode = Self.peerFrame(.heartbeat(Fogline_V1_Heartbeat(incarnation: 1, sequence: 1)))
        badNode.fromNode = "edge/a"
        var longSite = Self.peerFrame(.heartbeat(Fogline_V1_Heartbeat(incarnation: 1, sequence: 1)))
        longSite.site = String(repeating: "s", count: 65)
        var emptyKey = Fogline_V1_PaxosPrepare()
        emptyKey.key = ""
        for frame in [badNode, longSite, Self.peerFrame(.paxosPrepare(emptyKey))] {
            #expect {
                try PeerFrameCodec.decode(PeerFrameCodec.encode(frame))
            } throws: { error in
                (error as? WireError)?.reason == "invalid_value"
            }
        }
        var noDelta = Fogline_V1_GossipDelta()
        noDelta.deltaSeq = 1
        #expect {
            try PeerFrameCodec.decode(PeerFrameCodec.encode(Self.peerFrame(.gossipDelta(noDelta))))
        } throws: { error in
            (error as? WireError)?.reason == "missing_field"
        }
        // No body (e.g. one added by a newer build): decodes, to be ignored by the caller.
        var noBody = Self.peerFrame(.heartbeat(Fogline_V1_Heartbeat()))
        noBody.body = nil
        #expect(try PeerFrameCodec.decode(PeerFrameCodec.encode(noBody)).body == nil)
    }
}
