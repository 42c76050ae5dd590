import FoglineCore
import FoglineMQTT
import FoglineWire
import Foundation
public import Logging

/// The shell around ``CloudSyncResponder``: takes frames from the `up` topics, reads and writes the
/// ``CloudStore`` for it, and publishes what it answers. Several instances share the work through
/// the broker's shared subscription.
///
/// **Group commit.** A complete batch is queued, and ``handle(topic:payload:)`` returns at once;
/// one merge task at a time commits everything queued (up to ``maxGroupBytes``) in one
/// transaction per site, then acknowledges each batch. While a commit runs, the next batches
/// arrive and queue, so under load each commit takes several batches: during a catch-up the
/// batches spread over every device, and one commit writes each touched page once instead of
/// once per batch. Frames other than batches wait until the queue is merged, so a node's frames
/// are still acted on in the order they came.
///
/// The aggregator's own frames are not signed: an edge authenticates the aggregator by the cloud
/// broker's TLS certificate and its credentials there (only the aggregator may publish on `down`
/// topics, by the broker's ACL), while the aggregator cannot trust who publishes on `up` topics,
/// hence the per-node signatures it checks.
public actor CloudSyncService {
    /// Publishes one frame's bytes on a topic, QoS 1.
    public typealias Publish = @Sendable (_ topic: String, _ payload: [UInt8]) async throws -> Void

    /// Inflated batch bytes one commit takes at most (each commit takes at least one batch).
    public static let maxGroupBytes = 8 << 20
    /// Inflated batch bytes queued beyond which ``handle(topic:payload:)`` waits for the queue to
    /// be merged: the edges' in-flight windows bound the queue already, this bounds it whatever
    /// a node sends.
    public static let maxQueuedBytes = 32 << 20

    private let store: any CloudStore
    private var responder: CloudSyncResponder
    private let metrics: CloudMetrics
    private let logger: Logger
    private let publish: Publish
    /// Complete batches waiting for a commit, in arrival order, with their inflated sizes.
    private var queued: [(batch: ReceivedBatch, bytes: Int)] = []
    private var queuedBytes = 0
    /// The task merging the queue, while there is one; it ends when the queue is empty.
    private var merging: Task<Void, Never>?

    /// A shell over `store` that decides with `responder`, counts in `metrics` and sends with
    /// `publish` (the MQTT client's QoS 1 publish in `serve`, a capture in tests).
    public init(store: any CloudStore, responder: CloudSyncResponder, metrics: CloudMetrics, logger: Logger, publish: @escaping Publish) {
        self.store = store
        self.responder = responder
        self.metrics = metrics
        self.logger = logger
        self.publish = publish
    }

    /// Handles one message from an `up` topic. Never throws: a bad frame is counted and logged,
    /// a failed store call logged (the edge sends again when no answer comes). A complete batch
    /// is queued for the next commit (see the type's documentation); ``mergeQueued()`` waits for it.
    public func handle(topic: String, payload: [UInt8]) async {
        metrics.bytesReceived.increment(by: Int64(payload.count))
        let frame: InboundSyncFrame
        switch responder.receive(topic: topic, payload: payload, receivedAt: Self.wallMilliseconds()) {
        case .failure(let rejection):
            metrics.countRejection(rejection.reason)
            logger.warning("dropped a sync frame", metadata: [
                "topic": "\(topic)", "reason": "\(rejection.reason.rawValue)", "detail": "\(rejection.detail)",
            ])
            return
        case .success(let inbound):
            frame = inbound
        }
        metrics.countFrame(kind: frame.kind)
        var logger = logger
        logger[metadataKey: "site"] = "\(frame.peer.site)"
        logger[metadataKey: "node"] = "\(frame.peer.node)"
        do {
            try await act(on: frame, logger: logger)
        } catch {
            metrics.errors.increment()
            logger.error("a sync frame could not be handled; the node will send it again", metadata: [
                "kind": "\(frame.kind)", "error": "\(error)",
            ])
        }
    }

    /// After a cloud write to `site`: pushes it to the site's nodes whose summary this instance
    /// knows (the others get it with their next hello).
    public func pushWrites(site: String) async {
        for (node, summary) in responder.knownNodes(of: site) {
            let peer = SyncPeer(site: site, node: node)
            do {
                let local = try await store.summary(site: site)
                let batch = try await store.batch(site: site, since: summary, maxEntries: responder.configuration.maxBatchEntries)
                try await perform(responder.push(to: peer, local: local, batch: batch))
            } catch {
                metrics.errors.increment()
                logger.warning("could not push a cloud write; the node gets it with its next hello", metadata: [
                    "site": "\(site)", "node": "\(node)", "error": "\(error)",
                ])
            }
        }
    }

    private func act(on frame: InboundSyncFrame, logger: Logger) async throws {
        let peer = frame.peer
        let site = peer.site
        if case .batchPart = frame.event {} else {
            // What this frame reads of the store must include the batches that came before it.
            await mergeQueued()
        }
        switch frame.event {
        case .hello(let summary, let wantsReply):
            try await store.recordContact(site: site, node: peer.node, wallMilliseconds: Self.wallMilliseconds())
            if let status = frame.siteStatus {
                try await store.recordSiteStatus(status, site: site, node: peer.node, wallMilliseconds: Self.wallMilliseconds())
            }
            let local = try await store.summary(site: site)
            let catchUp = try await store.batch(site: site, since: summary, maxEntries: responder.configuration.maxBatchEntries)
            logger.debug("hello", metadata: ["wantsReply": "\(wantsReply)", "catchUp": "\(catchUp != nil)"])
            try await perform(responder.hello(from: peer, summary: summary, wantsReply: wantsReply, local: local, catchUp: catchUp))
        case .ack(let batchID, let summary, let refused):
            let local = try await store.summary(site: site)
            let next = try await store.batch(site: site, since: summary, maxEntries: responder.configuration.maxBatchEntries)
            logger.debug("ack", metadata: ["batch": "\(batchID)", "refused": "\(refused)"])
            try await perform(responder.acknowledged(from: peer, summary: summary, refused: refused, local: local, next: next))
        case .batchPart(let part):
            let parts: [StoredBatchPart]
            if part.count == 1 {
                parts = [part]
            } else {
                // Parts may reach different instances: the store gathers them.
                guard let complete = try await store.addBatchPart(part, site: site, node: peer.node) else { return }
                parts = complete
            }
            let assembled: (base: CausalContext, delta: SiteDelta, bytes: Int)
            do { assembled = try responder.assemble(parts) } catch {
                metrics.decodeFailures.increment()
                logger.warning("a sync batch did not decode and is not acknowledged", metadata: [
                    "batch": "\(part.batchID)", "error": "\(error.description)",
                ])
                return
            }
            await enqueue(ReceivedBatch(peer: peer, batchID: part.batchID, base: assembled.base, delta: assembled.delta), bytes: assembled.bytes)
        case .audit(let entries):
            let through: UInt64
            do {
                through = try await store.appendAudit(entries, site: site, node: peer.node)
            } catch let error as AuditAppendError {
                metrics.auditRejected.increment()
                logger.error("audit entries were not stored", metadata: ["error": "\(error.description)"])
                through = try await store.audit(site: site)[peer.node]?.last?.index ?? 0
            }
            try await perform(responder.auditStored(from: peer, through: through))
        case .ignored:
            return
        }
    }

    /// Returns once every batch queued so far is merged and acknowledged (or its commit failed).
    public func mergeQueued() async {
        while let merging { await merging.value }
    }

    private func enqueue(_ batch: ReceivedBatch, bytes: Int) async {
        queued.append((batch, bytes))
        queuedBytes += bytes
        if merging == nil {
            merging = Task { await self.mergeUntilEmpty() }
        }
        if queuedBytes > Self.maxQueuedBytes { await mergeQueued() }
    }

    private func mergeUntilEmpty() async {
        while !queued.isEmpty {
            var taken = 0
            var bytes = 0
            while taken < queued.count && (taken == 0 || bytes + queued[taken].bytes <= Self.maxGroupBytes) {
                bytes += queued[taken].bytes
                taken += 1
            }
            let group = queued.prefix(taken).map(\.batch)
            queued.removeFirst(taken)
            queuedBytes -= bytes
            // One commit per site, sites in order of their first batch.
            var sites: [String] = []
            var bySite: [String: [ReceivedBatch]] = [:]
            for batch in group {
                if bySite[batch.peer.site] == nil { sites.append(batch.peer.site) }
                bySite[batch.peer.site, default: []].append(batch)
            }
            for site in sites { await commit(bySite[site]!, site: site) }
        }
        merging = nil
    }

    /// Merges one site's batches in one transaction, then acknowledges them.
    private func commit(_ batches: [ReceivedBatch], site: String) async {
        do {
            let local = try await store.summary(site: site)
            let group = responder.group(batches, local: local)
            var summary = local
            if !group.admitted.isEmpty {
                summary = try await store.merge(group.deltas, site: site)
                metrics.merges.increment(by: Int64(group.admitted.count))
                metrics.mergeCommits.increment()
                let wall = Self.wallMilliseconds()
                for node in Set(group.admitted.map(\.peer.node)).sorted() {
                    try await store.recordContact(site: site, node: node, wallMilliseconds: wall)
                }
            }
            if !group.refused.isEmpty {
                metrics.refusedBatches.increment(by: Int64(group.refused.count))
                logger.info("refused sync batches whose base this store does not hold", metadata: [
                    "site": "\(site)", "batches": "\(group.refused.map(\.batchID))",
                ])
            }
            try await perform(responder.merged(group, summary: summary))
        } catch {
            metrics.errors.increment()
            logger.error("sync batches could not be merged; their nodes will send them again", metadata: [
                "site": "\(site)", "batches": "\(batches.map(\.batchID))", "error": "\(error)",
            ])
        }
    }

    private func perform(_ actions: [SyncAction]) async throws {
        for action in actions {
            switch action {
            case .publish(let topic, let frame):
                try await publish(topic, SyncFrameCodec.encode(frame))
                metrics.framesSent.increment()
            }
        }
    }

    static func wallMilliseconds() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970 * 1_000)) }
}
