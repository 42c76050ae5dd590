public import FoglineCore
internal import SwiftProtobuf
#if canImport(FoundationEssentials)
internal import FoundationEssentials
#else
internal import Foundation
#endif

/// Encodes and decodes site peer frames (`PeerFrame`: edge node ↔ edge node, length-prefixed
/// over TCP). Build frames with ``Fogline_V1_PeerFrame/init(from:site:sentAt:body:)`` and the
/// body initialisers below; convert CRDT payloads with `toSiteDelta(limits:)` /
/// `toCausalContext(limits:)`.
public enum PeerFrameCodec {
    /// The frame's bytes. A frame whose `schemaVersion` is unset (0) is stamped with
    /// ``WireSchema/currentVersion``.
    public static func encode(_ frame: Fogline_V1_PeerFrame) -> [UInt8] {
        var frame = frame
        if frame.schemaVersion == 0 { frame.schemaVersion = WireSchema.currentVersion }
        return ProtobufIO.serialize(frame)
    }

    /// Decodes a frame and checks its envelope: size, schema version (1 up to the current one),
    /// node and site names, and the quorum bodies' keys. A body this build does not know decodes
    /// as `body == nil`: ignore such frames. Payloads (deltas, contexts) are validated when
    /// converted.
    public static func decode(_ bytes: some Collection<UInt8>, limits: DecodeLimits = DecodeLimits()) throws(WireError) -> Fogline_V1_PeerFrame {
        let frame: Fogline_V1_PeerFrame = try ProtobufIO.parse(bytes, limits: limits)
        try FrameChecks.version(frame.schemaVersion)
        try FrameChecks.name(frame.fromNode, "from_node")
        try FrameChecks.name(frame.site, "site")
        switch frame.body {
        case .gossipDelta(let body):
            guard body.hasDelta else { throw .missingField("GossipDelta.delta") }
        case .paxosPrepare(let body): try FrameChecks.key(body.key)
        case .paxosPromise(let body): try FrameChecks.key(body.key)
        case .paxosAccept(let body): try FrameChecks.key(body.key)
        case .paxosAccepted(let body): try FrameChecks.key(body.key)
        case .paxosReject(let body): try FrameChecks.key(body.key)
        case .paxosConfirm(let body): try FrameChecks.key(body.key)
        case .paxosConfirmed(let body): try FrameChecks.key(body.key)
        case .heartbeat, .gossipAck, .contextExchange, nil: break
        }
        return frame
    }
}

/// Encodes and decodes edge ↔ cloud sync frames (`SyncFrame`, MQTT topics
/// `fogline/v1/sync/{site}/{node}/up|down`).
public enum SyncFrameCodec {
    /// The frame's bytes. A frame whose `schemaVersion` is unset (0) is stamped with
    /// ``WireSchema/currentVersion``.
    public static func encode(_ frame: Fogline_V1_SyncFrame) -> [UInt8] {
        var frame = frame
        if frame.schemaVersion == 0 { frame.schemaVersion = WireSchema.currentVersion }
        return ProtobufIO.serialize(frame)
    }

    /// Decodes a frame and checks its envelope: size, schema version, site and node names, and
    /// for a batch part its numbering (`part_index < part_count`, batch ids that agree) and a
    /// known compression. A body this build does not know decodes as `body == nil`.
    public static func decode(_ bytes: some Collection<UInt8>, limits: DecodeLimits = DecodeLimits()) throws(WireError) -> Fogline_V1_SyncFrame {
        let frame: Fogline_V1_SyncFrame = try ProtobufIO.parse(bytes, limits: limits)
        try FrameChecks.version(frame.schemaVersion)
        try FrameChecks.name(frame.site, "site")
        try FrameChecks.name(frame.node, "node")
        switch frame.body {
        case .batch(let batch):
            guard batch.partCount >= 1, batch.partIndex < batch.partCount else {
                throw .invalidValue(what: "sync batch part \(batch.partIndex) of \(batch.partCount)")
            }
            guard batch.batchID == frame.batchID else {
                throw .invalidValue(what: "sync batch id \(batch.batchID) in a frame for batch \(frame.batchID)")
            }
            if case .UNRECOGNIZED(let value) = batch.compression {
                throw .invalidValue(what: "unknown payload compression \(value)")
            }
        case .audit(let audit):
            for record in audit.entries {
                guard record.previousHash.count == 32, record.hash.count == 32 else {
                    throw .invalidValue(what: "audit entry \(record.index): hashes must be 32 bytes")
                }
            }
        case .ack, .hello, .auditAck, nil: break
        }
        return frame
    }
}

enum FrameChecks {
    static func version(_ version: UInt32) throws(WireError) {
        guard version >= 1, version <= WireSchema.currentVersion else {
            throw .unsupportedVersion(found: version, newestSupported: WireSchema.currentVersion)
        }
    }

    /// Site and node names: `[A-Za-z0-9_.-]{1,64}` (DESIGN.md, MQTT contract).
    static func name(_ name: String, _ field: String) throws(WireError) {
        let utf8 = name.utf8
        guard (1...64).contains(utf8.count) else {
            throw .invalidValue(what: "`\(field)` must be 1 to 64 characters long, got \(utf8.count)")
        }
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
                continue
            default:
                throw .invalidValue(what: "`\(field)` may only contain A-Z, a-z, 0-9, '_', '.' and '-'")
            }
        }
    }

    static func key(_ key: String) throws(WireError) {
        guard !key.isEmpty else { throw .invalidValue(what: "an empty quorum key") }
    }
}

// MARK: - Building frames

extension Fogline_V1_PeerFrame {
    /// A peer frame of the current schema version.
    public init(from node: String, site: String, sentAt: HLCTimestamp, body: OneOf_Body) {
        self.init()
        schemaVersion = WireSchema.currentVersion
        fromNode = node
        self.site = site
        self.sentAt = Fogline_V1_HLCTimestamp(sentAt)
        self.body = body
    }
}

extension Fogline_V1_SyncFrame {
    /// A sync frame of the current schema version.
    public init(site: String, node: String, batchID: UInt64 = 0, body: OneOf_Body) {
        self.init()
        schemaVersion = WireSchema.currentVersion
        self.site = site
        self.node = node
        self.batchID = batchID
        self.body = body
    }
}

extension Fogline_V1_Heartbeat {
    public init(incarnation: UInt64, sequence: UInt64) {
        self.init()
        self.incarnation = incarnation
        self.sequence = sequence
    }
}

extension Fogline_V1_GossipDelta {
    public init(delta: SiteDelta, deltaSeq: UInt64) {
        self.init()
        self.delta = Fogline_V1_SiteDelta(delta)
        self.deltaSeq = deltaSeq
    }
}

/// The frames that carry a ``ReplicaSummary`` (a causal context and a kernel digest).
public protocol ReplicaSummaryFrame {
    init()
    var context: Fogline_V1_CausalContext { get set }
    var kernelDigest: UInt64 { get set }
}

extension ReplicaSummaryFrame {
    public init(summary: ReplicaSummary) {
        self.init()
        context = Fogline_V1_CausalContext(summary.context)
        kernelDigest = summary.kernelDigest
    }

    public func toReplicaSummary(limits: DecodeLimits = DecodeLimits()) throws(WireError) -> ReplicaSummary {
        ReplicaSummary(context: try context.toCausalContext(limits: limits), kernelDigest: kernelDigest)
    }
}

extension Fogline_V1_ContextExchange: ReplicaSummaryFrame {}
extension Fogline_V1_SyncHello: ReplicaSummaryFrame {}
extension Fogline_V1_GossipAck: ReplicaSummaryFrame {
    /// Acknowledges gossip delta `deltaSeq`; `summary` is the acknowledging node's state after
    /// the merge.
    public init(deltaSeq: UInt64, summary: ReplicaSummary) {
        self.init(summary: summary)
        self.deltaSeq = deltaSeq
    }
}

extension Fogline_V1_SyncBatch {
    /// One part of batch `batchID`: `payload` is a slice of the (compressed) SiteDeltaCodec bytes.
    public init(batchID: UInt64, partIndex: UInt32 = 0, partCount: UInt32 = 1, payload: [UInt8],
                compression: Fogline_V1_Compression = .none) {
        self.init()
        self.batchID = batchID
        self.partIndex = partIndex
        self.partCount = partCount
        self.payload = Data(payload)
        self.compression = compression
    }
}

extension Fogline_V1_SyncAck {
    /// Acknowledges batch `batchID`: merged durably (or `refused`, see ``ReconcileSession``), after
    /// which the acknowledging side holds `summary`.
    public init(batchID: UInt64, summary: ReplicaSummary, refused: Bool = false) {
        self.init()
        self.batchID = batchID
        self.durableContext = Fogline_V1_CausalContext(summary.context)
        self.kernelDigest = summary.kernelDigest
        self.refused = refused
    }

    public func toReplicaSummary(limits: DecodeLimits = DecodeLimits()) throws(WireError) -> ReplicaSummary {
        ReplicaSummary(context: try durableContext.toCausalContext(limits: limits), kernelDigest: kernelDigest)
    }
}

extension Fogline_V1_AuditRecord {
    public init(_ entry: AuditEntry) {
        self.init()
        index = entry.index
        node = entry.node
        timestamp = Fogline_V1_HLCTimestamp(entry.timestamp)
        kind = entry.kind
        key = entry.key
        detail = entry.detail
        previousHash = Data(entry.previousHash.bytes)
        hash = Data(entry.hash.bytes)
    }

    /// The entry as received; `AuditChain.verify` checks its hash and link.
    public func toAuditEntry() throws(WireError) -> AuditEntry {
        guard let previous = AuditHash(bytes: [UInt8](previousHash)), let own = AuditHash(bytes: [UInt8](hash)) else {
            throw .invalidValue(what: "audit entry \(index): hashes must be 32 bytes")
        }
        return AuditEntry(
            index: index, node: node, timestamp: HLCTimestamp(timestamp), kind: kind, key: key, detail: detail,
            previousHash: previous, hash: own)
    }
}
