import Foundation
public import FoglineCore
import FoglineStore
import FoglineWire
public import Logging

/// The shell around ``SiteCoordinator``: carries its quorum messages and heartbeats over the
/// authenticated ``PeerTransport``, makes the acceptor's records durable (fsync) before the
/// replies that depend on them leave, appends decisions to the node's audit chain, and lets
/// the admin API await operations. It keeps no protocol logic of its own.
///
/// Group commit: handling an input never waits for the disk. The acceptor records (and audit
/// entries) of every input handled while a commit is in flight form the next batch, written in
/// one fsynced transaction on a writer queue; the replies, messages and completions an input
/// caused leave only once the records they depend on are durable.
public actor QuorumService {
    public let site: String
    public let node: String
    /// The coordinator's settings, from the node's `quorum:` configuration.
    public let coordination: SiteCoordinator.Configuration
    private let logger: Logger
    private let store: QuorumStore
    private let transport: PeerTransport?
    /// Stamps audit entries; restored from the chain's last entry, so stamps only grow.
    private var auditClock: HybridLogicalClock
    private let started = ContinuousClock.now
    private var coordinator: SiteCoordinator
    private var audit: AuditChain
    private var waiting: [OperationID: CheckedContinuation<RegisterOutcome, Never>] = [:]
    /// Which writes go into the next batch, and which effects wait for which batch.
    private var commit = GroupCommit<Effect>()
    private var writing = false
    private var writer: Task<Void, Never>?
    /// Runs the fsynced commits, so that they block neither the actor nor a thread of Swift's
    /// small cooperative pool.
    private let writerQueue = DispatchQueue(label: "fogline.quorum.writer")
    private var heartbeatSequence: UInt64 = 0
    private let incarnation: UInt64
    private let ownershipContinuation: AsyncStream<[Int: UInt64]>.Continuation
    /// The shards this node owns with their fencing tokens, after every change (the device
    /// plane resubscribes; commands to a shard's devices carry its token).
    public nonisolated let ownershipChanges: AsyncStream<[Int: UInt64]>
    public private(set) var roles: Set<String> = []
    /// Anti-entropy bodies from peers (gossip deltas, their acks, context exchanges) for
    /// ``SiteGossip``; the quorum shares the authenticated peer link with it.
    nonisolated let gossipFrames: AsyncStream<(from: String, body: Fogline_V1_PeerFrame.OneOf_Body)>
    private let gossipContinuation: AsyncStream<(from: String, body: Fogline_V1_PeerFrame.OneOf_Body)>.Continuation
    /// Frames that did not decode or came from a non-member.
    public private(set) var rejectedFrames = 0
    /// Peer frames rejected because their sender's clock ran ahead (``PeerClockCheck``), in total.
    public private(set) var clockRejectedFrames = 0
    /// How far ahead each peer's clock was in its last frame, for peers currently rejected for it.
    public private(set) var peersAhead: [String: UInt64] = [:]
    /// Whether this node takes new leases (``LeaseClockGate``); while it does not, it withholds
    /// its heartbeats so that the other nodes place its shards and roles as if it were down.
    public private(set) var allowsNewLeases: Bool
    /// Whether this node trusts its own wall clock; only then does it judge its peers' clocks.
    private var localClockTrusted = true
    /// How many device shards this node owns, as its heartbeats report it.
    private var shardsOwned = 0
    /// What each peer said of itself in its latest accepted heartbeat.
    private var peerReports: [String: PeerReport] = [:]
    private let maxPeerClockOffsetMilliseconds: UInt64
    private let wallClock: WallClock

    /// Opens `quorum.sqlite` under `dataDirectory` and restores the acceptor and audit chain.
    /// `siteKey` (read by the caller from `quorum.site_key_file`) authenticates peer frames.
    /// `allowsNewLeases` starts the node with its lease gate closed (its clock is untrusted).
    public init(
        site: String, node: String, settings: EdgeConfiguration.Quorum, siteKey: [UInt8], dataDirectory: String, logger: Logger,
        maxPeerClockOffsetMilliseconds: UInt64 = 500, allowsNewLeases: Bool = true, wallClock: WallClock = .system
    ) throws {
        self.wallClock = wallClock
        self.maxPeerClockOffsetMilliseconds = maxPeerClockOffsetMilliseconds
        self.allowsNewLeases = allowsNewLeases
        self.site = site
        self.node = node
        self.logger = logger
        store = try QuorumStore(path: dataDirectory + "/quorum.sqlite")
        incarnation = try store.nextIncarnation()
        let head = try store.auditHead()
        audit = AuditChain(node: node, resumingFrom: head)
        auditClock = HybridLogicalClock(
            node: NodeID(name: node), persistedBound: head.timestamp.map { $0.milliseconds + 1 },
            wallMilliseconds: wallClock.milliseconds())
        var coordination = SiteCoordinator.Configuration(node: node, members: [node] + settings.peers.keys.sorted())
        coordination.shardCount = settings.shards
        coordination.roles = settings.roles
        coordination.leaseTTLMilliseconds = UInt64(settings.leaseTTLMilliseconds)
        coordination.rebalanceDelayMilliseconds = UInt64(settings.rebalanceDelayMilliseconds)
        coordination.membership = MembershipView.Configuration(
            threshold: settings.phiThreshold, heartbeatIntervalMilliseconds: UInt64(settings.heartbeatIntervalMilliseconds),
            acceptableHeartbeatPauseMilliseconds: UInt64(settings.acceptablePauseMilliseconds))
        coordination.proposer.operationTimeoutMilliseconds = UInt64(settings.operationTimeoutMilliseconds)
        self.coordination = coordination
        coordinator = SiteCoordinator(
            configuration: coordination, acceptorRecords: try store.acceptorRecords(), incarnation: incarnation, at: 0)
        coordinator.takesNewLeases = allowsNewLeases
        if settings.peers.isEmpty {
            transport = nil
        } else {
            transport = try PeerTransport(
                configuration: .init(
                    site: site, node: node, listenHost: settings.listenHost, listenPort: settings.listenPort,
                    peers: settings.peers.mapValues { PeerTransport.PeerAddress(host: $0.host, port: $0.port) }, siteKey: siteKey),
                logger: logger)
        }
        (ownershipChanges, ownershipContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        // Gossip is resent after an ack timeout, so a full buffer loses nothing for good.
        (gossipFrames, gossipContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingOldest(1_024))
    }

    /// Runs until cancelled.
    public func run() async throws {
        try await transport?.start()
        logger.info("quorum service started", metadata: [
            "members": "\(coordination.members.joined(separator: ","))", "incarnation": "\(incarnation)",
            "peer_port": "\(transport?.boundPort.map(String.init) ?? "-")",
        ])
        await withTaskGroup(of: Void.self) { group in
            if let transport {
                group.addTask { for await received in transport.incoming { await self.receive(received) } }
                group.addTask {
                    for await event in transport.events { await self.log(event) }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(50))  // the protocol's timer granularity
                    await self.tick()
                }
            }
            group.addTask {
                let interval = self.coordination.membership.heartbeatIntervalMilliseconds
                while !Task.isCancelled {
                    await self.sendHeartbeats()
                    try? await Task.sleep(for: .milliseconds(interval))  // the heartbeat period
                }
            }
            _ = await group.next()
            group.cancelAll()
        }
        await transport?.shutdown()
        await writer?.value
        commit.dropHeld()
        for continuation in waiting.values { continuation.resume(returning: .unavailable("the node is shutting down")) }
        waiting = [:]
        ownershipContinuation.finish()
        gossipContinuation.finish()
        try? store.close()
    }

    /// Runs `operation` on `key` through the quorum. Always returns within the operation
    /// timeout: `unavailable` or `indeterminate` when no quorum answered.
    public func perform(_ operation: RegisterOperation, key: String) async -> RegisterOutcome {
        if case .acquireLease = operation, !allowsNewLeases {
            return .unavailable(
                "this node's wall clock is not trusted yet (booted without a real-time clock, or NTP has not synced), so it takes no new leases until it is or hlc.untrusted_lease_grace_s passes; nothing was changed. Ask another node of the site, or retry later")
        }
        let (id, outputs) = coordinator.submit(operation, key: key, at: now)
        return await withCheckedContinuation { continuation in
            waiting[id] = continuation
            perform(outputs)
        }
    }

    /// Opens or closes the lease gate and says whether this node trusts its own clock (the
    /// node's shell decides both every second from its HLC).
    public func setClock(trusted: Bool, allowsNewLeases allowed: Bool) {
        localClockTrusted = trusted
        if !trusted { peersAhead = [:] }
        guard allowed != allowsNewLeases else { return }
        allowsNewLeases = allowed
        coordinator.takesNewLeases = allowed
        logger.notice(allowed ? "taking new leases and sending heartbeats again" : "refusing new leases until the clock is trusted")
    }

    /// What a peer said of itself in its latest heartbeat.
    public struct PeerReport: Sendable, Equatable {
        public var shardsOwned: Int
        public var roles: [String]
        /// The peer's trust in its own clock.
        public var clockTrusted: Bool
        /// The peer's HLC (physical part) when it sent the heartbeat.
        public var hlcPhysicalMilliseconds: UInt64
    }

    /// A member as this node sees it: liveness and suspicion from the failure detector, and
    /// what the member last reported of itself (`nil` for this node and for silent peers).
    public struct MemberStatus: Sendable {
        public var name: String
        public var live: Bool
        public var phi: Double?
        public var report: PeerReport?
    }

    /// Members with their liveness, suspicion and latest report, for `GET /v1/status` and the
    /// site status sent to the aggregator.
    public func memberStatus() -> [MemberStatus] {
        let view = coordinator.membership
        return coordination.members.map {
            MemberStatus(name: $0, live: view.isLive($0, at: now), phi: view.phi(of: $0, at: now), report: peerReports[$0])
        }
    }

    public func auditEntries(after index: UInt64 = 0, limit: Int = 1_000) throws -> [AuditEntry] {
        try store.auditEntries(after: index, limit: limit)
    }

    public var transportStatistics: PeerTransport.Statistics? { transport?.statistics }

    /// The site's other nodes.
    nonisolated var peers: [String] { coordination.members.filter { $0 != node } }

    /// Whether the failure detector holds `peer` live.
    func isLive(_ peer: String) -> Bool { coordinator.membership.isLive(peer, at: now) }

    /// Sends an anti-entropy body to `peer` over the authenticated link; `false` when its queue
    /// is full or the frame too large (the gossip session sends it again later).
    func sendGossip(_ body: Fogline_V1_PeerFrame.OneOf_Body, to peer: String) -> Bool {
        guard let transport else { return false }
        return transport.send(frame(body), to: peer)
    }

    // MARK: Private

    private var now: UInt64 {
        milliseconds(since: started)
    }

    private func tick() {
        perform(coordinator.tick(at: now))
    }

    private func sendHeartbeats() {
        guard let transport, allowsNewLeases else { return }
        heartbeatSequence += 1
        var heartbeat = Fogline_V1_Heartbeat(incarnation: incarnation, sequence: heartbeatSequence)
        heartbeat.shardsOwned = UInt32(shardsOwned)
        heartbeat.roles = roles.sorted()
        heartbeat.clockTrusted = localClockTrusted
        let frame = frame(.heartbeat(heartbeat))
        for peer in coordination.members where peer != node { _ = transport.send(frame, to: peer) }
    }

    private func receive(_ received: PeerTransport.Received) {
        let decoded: Fogline_V1_PeerFrame
        do {
            decoded = try PeerFrameCodec.decode(received.body)
        } catch {
            rejectedFrames += 1
            logger.warning("dropped a peer frame that does not decode", metadata: ["from": "\(received.from)", "error": "\(error)"])
            return
        }
        guard decoded.site == site, decoded.fromNode == received.from else {
            rejectedFrames += 1
            logger.warning("dropped a peer frame whose envelope names another site or node", metadata: ["from": "\(received.from)"])
            return
        }
        let verdict = PeerClockCheck.verdict(
            sentAtMilliseconds: HLCTimestamp(decoded.sentAt).milliseconds, wallMilliseconds: wallClock.milliseconds(),
            maxOffsetMilliseconds: maxPeerClockOffsetMilliseconds, localClockTrusted: localClockTrusted)
        switch verdict {
        case .aheadBy(let milliseconds):
            clockRejectedFrames += 1
            if peersAhead.updateValue(milliseconds, forKey: received.from) == nil {
                logger.error(
                    "rejecting a peer whose clock runs ahead: its frames are not applied until it is back within hlc.max_offset_ms; check that node's NTP",
                    metadata: ["peer": "\(received.from)", "ahead_ms": "\(milliseconds)", "max_offset_ms": "\(maxPeerClockOffsetMilliseconds)"])
            }
            return
        case .accepted:
            if peersAhead.removeValue(forKey: received.from) != nil {
                logger.notice("a peer's clock is back within hlc.max_offset_ms; accepting its frames", metadata: ["peer": "\(received.from)"])
            }
        }
        switch decoded.body {
        case .heartbeat(let heartbeat):
            coordinator.heartbeat(from: received.from, at: now)
            peerReports[received.from] = PeerReport(
                shardsOwned: Int(heartbeat.shardsOwned), roles: heartbeat.roles, clockTrusted: heartbeat.clockTrusted,
                hlcPhysicalMilliseconds: HLCTimestamp(decoded.sentAt).milliseconds)
        case .gossipDelta?, .gossipAck?, .contextExchange?:
            gossipContinuation.yield((from: received.from, body: decoded.body!))
        case let body?:
            do {
                guard let message = try QuorumCodec.message(body) else { return }  // gossip bodies: not ours
                perform(coordinator.receive(message, from: received.from, at: now))
            } catch {
                rejectedFrames += 1
                logger.warning("dropped an invalid quorum message", metadata: ["from": "\(received.from)", "error": "\(error)"])
            }
        case nil:
            break
        }
    }

    // MARK: Group commit

    /// Handles the coordinator's outputs for one input. Acceptor records and audit entries join
    /// the batch being built, which ``drain()`` writes in one fsynced transaction; every other
    /// output waits until what it depends on is on disk (and leaves at once if it already is).
    /// Messages to this node itself are handled at once: a crash before the write loses them
    /// together with the state they changed.
    ///
    /// What an output depends on: every quorum message and every completion concerns one key,
    /// and the only durable state behind it is this node's acceptor record of that key (and, for
    /// a completion, the audit entry of its decision). So each waits for the latest batch that
    /// wrote that key — a reply of the local acceptor for the record written just before it, a
    /// proposer's accept for the local promise it may have counted — while an accept that only
    /// depends on records already on disk leaves without waiting for the batch in flight.
    /// Ownership and role changes, which sum up many keys, wait for every batch so far.
    private func perform(_ outputs: [SiteCoordinator.Output]) {
        var work = outputs[...]
        while let output = work.popFirst() {
            switch output {
            case .persistAcceptor(let key, let record):
                commit.write(record, key: key)
            case .send(let message, let to) where to == node:
                work.append(contentsOf: coordinator.receive(message, from: to, at: now))
            case .send(let message, let to):
                release(.send(message, to: to), dependingOn: message.key)
            case .completed(let id, let key, _, let outcome):
                release(.complete(id, outcome), dependingOn: key)
            case .ownedShardsChanged(let shards):
                let fences = Dictionary(uniqueKeysWithValues: shards.compactMap { shard in
                    coordinator.fence(forShard: shard, at: now).map { (shard, $0) }
                })
                release(.ownership(fences), dependingOn: nil)
            case .rolesChanged(let roles):
                release(.roles(roles), dependingOn: nil)
            case .decided(let kind, let key, let detail):
                let stamp = auditClock.now(wallMilliseconds: wallClock.milliseconds()).timestamp
                commit.write(audit.append(at: stamp, kind: kind, key: key, detail: detail))
            }
        }
        if !writing && commit.hasWrites {
            writing = true
            writer = Task { await drain() }
        }
    }

    /// An effect on the world outside the coordinator, performed once the batch it depends on
    /// is durable.
    private enum Effect {
        case send(QuorumMessage, to: String)
        case complete(OperationID, RegisterOutcome)
        case ownership([Int: UInt64])
        case roles(Set<String>)
    }

    private func release(_ effect: Effect, dependingOn key: String?) {
        if let ready = commit.release(effect, dependingOn: key) { apply(ready) }
    }

    private func apply(_ effect: Effect) {
        switch effect {
        case .send(let message, let to):
            if let transport, !transport.send(frame(QuorumCodec.body(message)), to: to) {
                logger.debug("peer send queue full; message dropped", metadata: ["peer": "\(to)"])
            }
        case .complete(let id, let outcome):
            waiting.removeValue(forKey: id)?.resume(returning: outcome)
        case .ownership(let fences):
            logger.info("owned shards changed", metadata: ["shards": "\(fences.keys.sorted())"])
            shardsOwned = fences.count
            ownershipContinuation.yield(fences)
        case .roles(let roles):
            logger.info("roles changed", metadata: ["roles": "\(roles.sorted())"])
            self.roles = roles
        }
    }

    /// Writes batches one after another until none is left, each in one fsynced transaction on
    /// the writer queue — off the actor, which meanwhile handles the inputs that form the next
    /// batch — and after each performs, in order, the effects that waited for it.
    private func drain() async {
        while let batch = commit.takeBatch() {
            let store = store
            let result: Result<StoreError?, any Error> = await withCheckedContinuation { continuation in
                writerQueue.async {
                    continuation.resume(returning: Result {
                        try store.commit(acceptorRecords: batch.records, auditEntries: batch.audit)
                    })
                }
            }
            switch result {
            case .success(let auditError):
                if let auditError {
                    logger.error("could not append to the audit log; decisions go on, but the chain misses entries", metadata: ["error": "\(auditError)"])
                }
                for effect in commit.committed(batch) { apply(effect) }
            case .failure(let error):
                // Answering without the records on disk could break Paxos: what waited for them
                // waits for the next batch, which writes them again. Clients are told the outcome
                // is unknown rather than left waiting on a disk that may stay broken.
                logger.error(
                    "could not persist acceptor state, so this node withholds its quorum replies; check that the data directory's disk is writable and not full",
                    metadata: ["error": "\(error)"])
                let abandoned = commit.failed(batch) { if case .complete = $0 { true } else { false } }
                for case .complete(let id, _) in abandoned {
                    apply(.complete(id, .indeterminate("this node could not write its quorum state to disk (\(error)); the operation may or may not have been applied")))
                }
                try? await Task.sleep(for: .milliseconds(100))  // back off from a failing disk
            }
        }
        writing = false
    }


    private func frame(_ body: Fogline_V1_PeerFrame.OneOf_Body) -> [UInt8] {
        // sent_at is this node's wall clock: receivers reject the frame if it runs ahead of theirs.
        PeerFrameCodec.encode(Fogline_V1_PeerFrame(
            from: node, site: site, sentAt: HLCTimestamp(milliseconds: wallClock.milliseconds(), counter: 0, node: NodeID(name: node)),
            body: body))
    }

    private func log(_ event: PeerTransport.Event) {
        logger.info("peer link: \(event)")
    }
}
