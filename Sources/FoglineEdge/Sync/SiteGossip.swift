import FoglineCore
import FoglineStore
import FoglineWire
import Logging

/// Site gossip (DESIGN.md "Replicated state"): one ``ReconcileSession`` per peer over the
/// authenticated peer link, so every node converges on the site state and any node can take
/// over the uplink. A peer's link counts as up while the failure detector holds it live; each
/// write is sent once per peer while it stays up, and never back to a node that holds it.
///
/// Frames: `ContextExchange` is the hello, `GossipDelta` a batch (its `delta_seq` the batch id),
/// `GossipAck` the acknowledgement. Like the uplink, it reads committed state only and
/// acknowledges a delta once the node has merged it durably.
actor SiteGossip {
    private let quorum: QuorumService
    private let store: EdgeStore
    private let logger: Logger
    private let configuration: ReconcileSession.Configuration
    private var sessions: [String: ReconcileSession] = [:]
    private var mergeDurably: @Sendable (SiteDelta) async throws -> Void = { _ in throw EdgeNodeError.uplinkNotAttached }
    private let started = ContinuousClock.now
    /// Deltas merged from peers, and frames that did not convert.
    private(set) var merged = 0
    private(set) var rejected = 0

    init(quorum: QuorumService, store: EdgeStore, logger: Logger, configuration: ReconcileSession.Configuration) {
        self.quorum = quorum
        self.store = store
        self.logger = logger
        self.configuration = configuration
        for peer in quorum.peers { sessions[peer] = ReconcileSession(configuration: configuration) }
    }

    func attach(mergeDurably: @escaping @Sendable (SiteDelta) async throws -> Void) {
        self.mergeDurably = mergeDurably
    }

    /// Runs until cancelled: handles peer frames and, every `interval`, follows liveness and time.
    func run(interval: Duration = .milliseconds(500)) async {
        guard !sessions.isEmpty else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for await (from, body) in self.quorum.gossipFrames { await self.received(body, from: from) } }
            group.addTask {
                while !Task.isCancelled {
                    await self.tick()
                    try? await Task.sleep(for: interval)  // a periodic timer, not a wait for a condition
                }
            }
            _ = await group.next()
            group.cancelAll()
        }
    }

    private func tick() async {
        let now = monotonicMilliseconds()
        for peer in sessions.keys.sorted() {
            let live = await quorum.isLive(peer)
            var session = sessions[peer]!
            var actions: [ReconcileSession.Action]
            switch (live, session.phase) {
            case (true, .disconnected): actions = session.connected(local: replica(), at: now)
            case (false, .disconnected): actions = []
            case (false, _):
                session.disconnected()
                actions = []
            case (true, _): actions = session.tick(local: replica(), at: now)
            }
            sessions[peer] = session
            await perform(actions, peer: peer)
        }
    }

    private func received(_ body: Fogline_V1_PeerFrame.OneOf_Body, from peer: String) async {
        guard var session = sessions[peer] else { return }
        let now = monotonicMilliseconds()
        let actions: [ReconcileSession.Action]
        do {
            switch body {
            case .contextExchange(let hello):
                actions = session.receivedHello(try hello.toReplicaSummary(), wantsReply: hello.wantsReply, local: replica(), at: now)
            case .gossipDelta(let delta):
                actions = session.receivedBatch(
                    id: delta.deltaSeq, base: try delta.base.toCausalContext(), try delta.delta.toSiteDelta(), local: replica())
            case .gossipAck(let ack):
                actions = session.receivedAcknowledgement(
                    id: ack.deltaSeq, merged: !ack.refused, summary: try ack.toReplicaSummary(), local: replica(), at: now)
            default:
                return
            }
        } catch {
            rejected += 1
            logger.warning("dropped an invalid gossip frame", metadata: ["from": "\(peer)", "error": "\(error)"])
            return
        }
        sessions[peer] = session
        await perform(actions, peer: peer)
    }

    private func perform(_ actions: [ReconcileSession.Action], peer: String) async {
        let link = ReconcileLink(store: store, logger: logger, mergeDurably: mergeDurably)
        let quorum = quorum
        // A frame the link refuses (queue full, too large) is sent again after the ack timeout.
        merged += await link.perform(actions, over: .init(
            hello: { summary, wantsReply in
                var hello = Fogline_V1_ContextExchange(summary: summary)
                hello.wantsReply = wantsReply
                _ = await quorum.sendGossip(.contextExchange(hello), to: peer)
            },
            batch: { id, base, delta in
                var body = Fogline_V1_GossipDelta(delta: delta, deltaSeq: id)
                body.base = Fogline_V1_CausalContext(base)
                _ = await quorum.sendGossip(.gossipDelta(body), to: peer)
            },
            acknowledge: { id, summary, refused in
                var ack = Fogline_V1_GossipAck(deltaSeq: id, summary: summary)
                ack.refused = refused
                _ = await quorum.sendGossip(.gossipAck(ack), to: peer)
            }))
    }

    private func replica() -> StoreReplica { StoreReplica(store: store, logger: logger) }

    private func monotonicMilliseconds() -> UInt64 { milliseconds(since: started) }
}
