import FoglineCore
import FoglineMQTT
import FoglineWire
import Foundation
public import Logging

/// The shell around ``CloudSyncResponder``: takes frames from the `up` topics, reads and writes the
/// ``CloudStore`` for it, and publishes what it answers. One frame at a time per instance (frames
/// of one node stay in order); several instances share the work through the broker's shared
/// subscription.
///
/// The aggregator's own frames are not signed: an edge authenticates the aggregator by the cloud
/// broker's TLS certificate and its credentials there (only the aggregator may publish on `down`
/// topics, by the broker's ACL), while the aggregator cannot trust who publishes on `up` topics,
/// hence the per-node signatures it checks.
public actor CloudSyncService {
    /// Publishes one frame's bytes on a topic, QoS 1.
    public typealias Publish = @Sendable (_ topic: String, _ payload: [UInt8]) async throws -> Void

    private let store: any CloudStore
    private var responder: CloudSyncResponder
    private let metrics: CloudMetrics
    private let logger: Logger
    private let publish: Publish

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
    /// a failed store call logged (the edge sends again when no answer comes).
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
            let base: CausalContext
            let delta: SiteDelta
            do { (base, delta) = try responder.assemble(parts) } catch {
                metrics.decodeFailures.increment()
                logger.warning("a sync batch did not decode and is not acknowledged", metadata: [
                    "batch": "\(part.batchID)", "error": "\(error.description)",
                ])
                return
            }
            let local = try await store.summary(site: site)
            switch responder.admit(batchID: part.batchID, base: base, from: peer, local: local) {
            case .refuse(let actions):
                metrics.refusedBatches.increment()
                logger.info("refused a sync batch whose base this store does not hold", metadata: ["batch": "\(part.batchID)"])
                try await perform(actions)
            case .merge:
                let after = try await store.merge(delta, site: site)
                metrics.merges.increment()
                try await store.recordContact(site: site, node: peer.node, wallMilliseconds: Self.wallMilliseconds())
                try await perform(responder.merged(batchID: part.batchID, from: peer, batch: delta, summary: after))
            }
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
