public import Crypto
public import FoglineCore
public import FoglineWire

/// An edge node of a site: who a sync frame comes from or goes to.
public struct SyncPeer: Hashable, Sendable, CustomStringConvertible {
    public var site: String
    public var node: String

    public init(site: String, node: String) {
        self.site = site
        self.node = node
    }

    /// `fogline/v1/sync/{site}/{node}/down`: where the aggregator's frames to this node go.
    public var downTopic: String { "fogline/v1/sync/\(site)/\(node)/down" }
    /// `fogline/v1/sync/{site}/{node}/up`: where this node's frames arrive.
    public var upTopic: String { "fogline/v1/sync/\(site)/\(node)/up" }

    public var description: String { "\(site)/\(node)" }
}

/// Why a frame on an `up` topic was dropped before anything acted on it
/// (`fogline_cloud_rejected_frames_total{reason=…}`).
public enum SyncRejectReason: String, Sendable, CaseIterable {
    /// The site or node is not in the configuration's list of nodes and keys.
    case unknownNode = "unknown_node"
    /// The frame carries no signature, or one that the node's public key does not verify.
    case badSignature = "bad_signature"
    /// Not a valid sync frame, or its site/node disagree with its topic.
    case malformed
}

/// A dropped frame: the reason (a metric label) and a sentence for the log.
public struct SyncRejection: Error, Sendable, Equatable {
    public var reason: SyncRejectReason
    public var detail: String
}

/// What an authenticated frame from an edge node asks for.
public enum SyncEvent: Sendable, Equatable {
    /// The node's summary; `wantsReply` asks for ours.
    case hello(ReplicaSummary, wantsReply: Bool)
    /// The node merged (or refused) one of our batches and now holds `summary`.
    case ack(batchID: UInt64, summary: ReplicaSummary, refused: Bool)
    /// One part of a batch the node sends (a single-part batch is one such part).
    case batchPart(StoredBatchPart)
    /// Entries of the node's audit chain.
    case audit([AuditEntry])
    /// A body the aggregator does not act on (an `audit_ack` echoed back, or a body this build
    /// does not know).
    case ignored
}

/// An authenticated, decoded frame from an edge node.
public struct InboundSyncFrame: Sendable, Equatable {
    public var peer: SyncPeer
    public var event: SyncEvent
    /// The body's name for metrics (`hello`, `batch`, `ack`, `audit`, `audit_ack`, `none`).
    public var kind: String
    /// The encoded `Fogline_V1_SiteStatus` a hello carried, if any (kept for the dashboard).
    public var siteStatus: [UInt8]? = nil
}

/// Something the shell does for the responder.
public enum SyncAction: Sendable, Equatable {
    /// Publish `frame` (QoS 1) on `topic`.
    case publish(topic: String, frame: Fogline_V1_SyncFrame)
}

/// A complete batch from an edge node, decoded, waiting for the next group commit.
public struct ReceivedBatch: Sendable, Equatable {
    public var peer: SyncPeer
    public var batchID: UInt64
    /// What the node assumed the aggregator holds, its batches still in flight included.
    public var base: CausalContext
    public var delta: SiteDelta

    public init(peer: SyncPeer, batchID: UInt64, base: CausalContext, delta: SiteDelta) {
        self.peer = peer
        self.batchID = batchID
        self.base = base
        self.delta = delta
    }
}

/// What one commit does with complete batches of one site that arrived together: merges the
/// admitted ones, in arrival order, and refuses the rest (see
/// ``CloudSyncResponder/group(_:local:)``).
public struct MergeGroup: Sendable, Equatable {
    /// The batches to merge, in arrival order.
    public var admitted: [ReceivedBatch] = []
    /// The batches whose base the store would not hold, in arrival order: an earlier batch of the
    /// node was lost, and the node starts again from what the store holds.
    public var refused: [ReceivedBatch] = []

    /// The deltas the commit joins, in order.
    public var deltas: [SiteDelta] { admitted.map(\.delta) }
}

/// The aggregator's half of edge ↔ cloud anti-entropy (DESIGN.md, "Edge ↔ cloud"), as a value:
/// inputs are frames and what the shell read from the ``CloudStore``; outputs are frames to
/// publish. No I/O, no clock.
///
/// It is the counterpart of the edge's ``ReconcileSession``, made to run in several `serve`
/// processes behind one MQTT 5 shared subscription: any instance may receive any frame of a node,
/// so nothing an answer needs lives only here. The durable state (what the site holds, which batch
/// parts arrived) is in the store; what this value remembers per node (the node's last known
/// summary, to push `desired` writes without waiting for the node's next hello) is an
/// optimisation that another instance simply does not have.
///
/// The cloud → edge direction is stop-and-wait: one batch, then the next when the node
/// acknowledges it (from that acknowledgement's summary). It carries only what the edge lacks:
/// cloud `desired` writes, and catch-up after the node lost state.
public struct CloudSyncResponder: Sendable {
    /// What the responder needs from the configuration.
    public struct Configuration: Sendable {
        /// Each site's nodes and their Ed25519 public keys (site → node → key).
        public var nodeKeys: [String: [String: Curve25519.Signing.PublicKey]]
        /// Accept frames from any node, signed or not (demos only).
        public var acceptUnsigned: Bool
        /// Largest payload of one batch part (the broker's message size limit, less headroom).
        public var maxPartBytes: Int
        /// Entries per batch sent to a node.
        public var maxBatchEntries: Int
        /// Limits on what a frame may decode to.
        public var decodeLimits: DecodeLimits
        /// Most parts one batch may announce: the store keeps parts until a batch is complete, so
        /// an absurd count must not reserve room for it.
        public var maxPartsPerBatch = 4_096

        public init(
            nodeKeys: [String: [String: Curve25519.Signing.PublicKey]] = [:], acceptUnsigned: Bool = false,
            maxPartBytes: Int = 256 << 10, maxBatchEntries: Int = 5_000, decodeLimits: DecodeLimits = DecodeLimits()
        ) {
            self.nodeKeys = nodeKeys
            self.acceptUnsigned = acceptUnsigned
            self.maxPartBytes = maxPartBytes
            self.maxBatchEntries = maxBatchEntries
            self.decodeLimits = decodeLimits
        }
    }

    /// What this instance knows of one node.
    struct Known: Sendable {
        /// What the node said it holds (hello, acks), grown by what it sent us.
        var summary: ReplicaSummary
        /// Our kernel digest when we last sent the node our alarm kernel since its last hello: an
        /// alarms-only batch with the same kernel would change nothing there (the kernels differ
        /// because the node holds alarms we have not merged yet, which it sends us).
        var kernelSentDigest: UInt64?
    }

    public let configuration: Configuration
    private var known: [SyncPeer: Known] = [:]
    private let batchIDPrefix: UInt64
    private var batchCounter: UInt32 = 0

    /// `batchIDPrefix` makes this instance's batch ids unique among instances (pass random bits):
    /// ids are `prefix << 32 | counter`.
    public init(configuration: Configuration, batchIDPrefix: UInt32) {
        self.configuration = configuration
        self.batchIDPrefix = UInt64(batchIDPrefix) << 32
    }

    /// The node's summary as this instance last heard it, if at all.
    public func knownSummary(of peer: SyncPeer) -> ReplicaSummary? { known[peer]?.summary }

    /// The nodes of `site` whose summary this instance knows (to push a cloud write to them).
    public func knownNodes(of site: String) -> [(node: String, summary: ReplicaSummary)] {
        known.filter { $0.key.site == site }.map { (node: $0.key.node, summary: $0.value.summary) }.sorted { $0.node < $1.node }
    }

    // MARK: Receiving

    /// Decodes and authenticates a frame that arrived on `topic` (`fogline/v1/sync/{site}/{node}/up`).
    /// `receivedAt` (wall milliseconds) stamps a batch part for the store's expiry.
    public func receive(topic: String, payload: [UInt8], receivedAt: UInt64) -> Result<InboundSyncFrame, SyncRejection> {
        let segments = topic.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count == 6, segments[0] == "fogline", segments[1] == "v1", segments[2] == "sync", segments[5] == "up"
        else { return .failure(SyncRejection(reason: .malformed, detail: "`\(topic)` is not a fogline/v1/sync/{site}/{node}/up topic")) }
        let frame: Fogline_V1_SyncFrame
        do { frame = try SyncFrameCodec.decode(payload, limits: configuration.decodeLimits) } catch {
            return .failure(SyncRejection(reason: .malformed, detail: error.description))
        }
        let peer = SyncPeer(site: frame.site, node: frame.node)
        guard frame.site == segments[3], frame.node == segments[4] else {
            return .failure(SyncRejection(
                reason: .malformed, detail: "a frame of \(peer) arrived on \(topic); a node publishes only on its own topic"))
        }
        if !configuration.acceptUnsigned {
            guard let key = configuration.nodeKeys[peer.site]?[peer.node] else {
                return .failure(SyncRejection(
                    reason: .unknownNode,
                    detail: "node \(peer.node) of site \(peer.site) is not in the configuration's `sites`; add it with its public key"))
            }
            guard SyncFrameSignature.isValid(frame, for: key) else {
                return .failure(SyncRejection(
                    reason: .badSignature,
                    detail: "the frame of \(peer) is unsigned or its signature does not verify with the configured key"))
            }
        }
        do {
            let (event, kind) = try Self.event(
                of: frame, receivedAt: receivedAt, limits: configuration.decodeLimits, maxParts: configuration.maxPartsPerBatch)
            var inbound = InboundSyncFrame(peer: peer, event: event, kind: kind)
            if case .hello(let hello) = frame.body, hello.hasStatus {
                inbound.siteStatus = hello.status.encoded
            }
            return .success(inbound)
        } catch {
            return .failure(SyncRejection(reason: .malformed, detail: error.description))
        }
    }

    private static func event(
        of frame: Fogline_V1_SyncFrame, receivedAt: UInt64, limits: DecodeLimits, maxParts: Int
    ) throws(WireError) -> (SyncEvent, String) {
        switch frame.body {
        case .hello(let hello):
            return (.hello(try hello.toReplicaSummary(limits: limits), wantsReply: hello.wantsReply), "hello")
        case .ack(let ack):
            return (.ack(batchID: ack.batchID, summary: try ack.toReplicaSummary(limits: limits), refused: ack.refused), "ack")
        case .batch(let batch):
            guard batch.partCount <= maxParts else {
                throw .limitExceeded(what: "parts of one sync batch", limit: maxParts)
            }
            // The base travels as the store keeps it, so a part kept by one instance and completed
            // at another decodes the same way.
            let base = batch.partIndex == 0 && batch.hasBase ? CausalContextCodec.encode(try batch.base.toCausalContext(limits: limits)) : []
            return (.batchPart(StoredBatchPart(
                batchID: batch.batchID, index: batch.partIndex, count: batch.partCount, compression: batch.compression.rawValue,
                base: base, payload: [UInt8](batch.payload), receivedWallMilliseconds: receivedAt)), "batch")
        case .audit(let audit):
            var entries: [AuditEntry] = []
            for record in audit.entries { entries.append(try record.toAuditEntry()) }
            return (.audit(entries), "audit")
        case .auditAck:
            return (.ignored, "audit_ack")
        case nil:
            return (.ignored, "none")
        }
    }

    /// Puts a complete batch back together: the parts' payloads in index order, inflated when
    /// compressed, decoded; the base from part 0 (empty when the sender set none); `bytes`, the
    /// inflated payload's size (what the batch weighs in memory, roughly).
    public func assemble(_ parts: [StoredBatchPart]) throws(WireError) -> (base: CausalContext, delta: SiteDelta, bytes: Int) {
        let sorted = parts.sorted { $0.index < $1.index }
        guard let first = sorted.first, sorted.count == Int(first.count),
            sorted.enumerated().allSatisfy({ $0.offset == Int($0.element.index) && $0.element.compression == first.compression })
        else { throw .invalidValue(what: "sync batch parts that do not make one whole batch") }
        var payload: [UInt8] = []
        for part in sorted { payload += part.payload }
        switch first.compression {
        case Fogline_V1_Compression.none.rawValue: break
        case Fogline_V1_Compression.deflate.rawValue:
            payload = try Deflate.decompress(payload, maxBytes: configuration.decodeLimits.maxBytes)
        default:
            throw .invalidValue(what: "sync batch compression \(first.compression)")
        }
        let delta = try SiteDeltaCodec.decode(payload, limits: configuration.decodeLimits)
        let base = first.base.isEmpty ? CausalContext() : try CausalContextCodec.decode(first.base, limits: configuration.decodeLimits)
        return (base, delta, payload.count)
    }

    // MARK: Deciding

    /// A node's hello. `local` is the site's stored summary and `catchUp` what the store says the
    /// node lacks (``CloudStore/batch(site:since:maxEntries:)`` since the hello's summary).
    /// The caller has recorded the contact.
    public mutating func hello(
        from peer: SyncPeer, summary: ReplicaSummary, wantsReply: Bool, local: ReplicaSummary, catchUp: SiteDelta?
    ) -> [SyncAction] {
        // A hello replaces what was known: the node may have lost state in a crash.
        known[peer] = Known(summary: summary, kernelSentDigest: nil)
        var actions: [SyncAction] = []
        if wantsReply {
            actions.append(.publish(
                topic: peer.downTopic,
                frame: Fogline_V1_SyncFrame(site: peer.site, node: peer.node, body: .hello(helloBody(local)))))
        }
        return actions + send(catchUp, to: peer, base: summary, local: local)
    }

    /// The node acknowledged (or refused) one of our batches and now holds `summary`; `next` is what
    /// the store says it lacks since that summary. Either way the next batch starts from the
    /// acknowledgement: after a refusal, that is what the node really holds.
    public mutating func acknowledged(
        from peer: SyncPeer, summary: ReplicaSummary, refused: Bool, local: ReplicaSummary, next: SiteDelta?
    ) -> [SyncAction] {
        var entry = known[peer] ?? Known(summary: summary, kernelSentDigest: nil)
        entry.summary = summary
        if refused { entry.kernelSentDigest = nil }
        known[peer] = entry
        return send(next, to: peer, base: summary, local: local)
    }

    /// Decides what one commit does with `batches`, complete batches of one site in arrival order
    /// (`local`: the site's stored summary). A batch is admitted when the stored context, grown by
    /// the batches admitted before it, includes its base: a node's batch may build on its earlier
    /// batches still in flight, and those arrive first, in the same group or an earlier one.
    public func group(_ batches: [ReceivedBatch], local: ReplicaSummary) -> MergeGroup {
        var held = local.context
        var group = MergeGroup()
        for batch in batches {
            if held.includes(batch.base) {
                group.admitted.append(batch)
                held.formUnion(batch.delta.context)
            } else {
                group.refused.append(batch)
            }
        }
        return group
    }

    /// The group's merge is durable (or there was nothing to merge) and the site holds `summary`:
    /// acknowledge each admitted batch, and refuse the others with `summary`, what the store
    /// really holds. (A refusal never claims a batch that is not durable yet: the node drops what
    /// an acknowledgement's summary covers.) The nodes hold what their batches cover (a replica
    /// ships only what it holds durably).
    public mutating func merged(_ group: MergeGroup, summary: ReplicaSummary) -> [SyncAction] {
        var actions: [SyncAction] = []
        for batch in group.admitted {
            known[batch.peer]?.summary.context.formUnion(batch.delta.context)
            actions.append(ack(batch.batchID, to: batch.peer, summary: summary, refused: false))
        }
        for batch in group.refused {
            actions.append(ack(batch.batchID, to: batch.peer, summary: summary, refused: true))
        }
        return actions
    }

    /// The node's audit chain is stored through index `storedThrough`.
    public func auditStored(from peer: SyncPeer, through storedThrough: UInt64) -> [SyncAction] {
        var body = Fogline_V1_SyncAuditAck()
        body.storedThrough = storedThrough
        return [.publish(topic: peer.downTopic, frame: Fogline_V1_SyncFrame(site: peer.site, node: peer.node, body: .auditAck(body)))]
    }

    /// Pushes what a node whose summary this instance knows lacks after a cloud write (`batch`:
    /// the store's batch since ``knownSummary(of:)``).
    public mutating func push(to peer: SyncPeer, local: ReplicaSummary, batch: SiteDelta?) -> [SyncAction] {
        guard let summary = known[peer]?.summary else { return [] }
        return send(batch, to: peer, base: summary, local: local)
    }

    // MARK: Private

    private mutating func send(_ batch: SiteDelta?, to peer: SyncPeer, base: ReplicaSummary, local: ReplicaSummary) -> [SyncAction] {
        guard let batch else { return [] }
        if base.context.includes(batch.context) {
            // Nothing new but possibly the alarm kernel: send that once per kernel (see `Known`).
            if batch.carriesNoParts { return [] }
            if batch.carriesOnlyAlarms && known[peer]?.kernelSentDigest == local.kernelDigest { return [] }
        }
        if batch.alarms != nil { known[peer]?.kernelSentDigest = local.kernelDigest }
        batchCounter &+= 1
        let id = batchIDPrefix | UInt64(batchCounter)
        return SyncBatchCodec.encode(batch, batchID: id, maxPartBytes: configuration.maxPartBytes).map { part in
            var part = part
            if part.partIndex == 0 { part.base = Fogline_V1_CausalContext(base.context) }
            return .publish(
                topic: peer.downTopic, frame: Fogline_V1_SyncFrame(site: peer.site, node: peer.node, batchID: id, body: .batch(part)))
        }
    }

    private func ack(_ batchID: UInt64, to peer: SyncPeer, summary: ReplicaSummary, refused: Bool) -> SyncAction {
        .publish(
            topic: peer.downTopic,
            frame: Fogline_V1_SyncFrame(
                site: peer.site, node: peer.node, batchID: batchID,
                body: .ack(Fogline_V1_SyncAck(batchID: batchID, summary: summary, refused: refused))))
    }

    private func helloBody(_ summary: ReplicaSummary) -> Fogline_V1_SyncHello {
        var hello = Fogline_V1_SyncHello(summary: summary)
        hello.wantsReply = false
        return hello
    }
}
