import Crypto
import FoglineCore
import FoglineMQTT
import FoglineStore
import FoglineWire
import Foundation
import Logging

/// The shell of the cloud uplink (DESIGN.md "Edge ↔ cloud"): while this node holds the
/// `cloud-uplink` role it connects to the aggregator's broker and runs a ``ReconcileSession``
/// against it over `fogline/v1/sync/{site}/{node}/up` (what it sends) and `…/down` (what the
/// aggregator sends). It also ships this node's audit chain.
///
/// What it reads is the store, never memory: only committed writes go up (see
/// ``FoglineCore/ReconcileReplica``). A batch from the aggregator is merged through the node
/// (`mergeDurably`, which returns once the merge is committed) before it is acknowledged.
actor CloudUplink {
    struct Settings: Sendable {
        var site: String
        var node: String
        var client: MQTTClientConfiguration
        var signingKey: Curve25519.Signing.PrivateKey?
        var maxPartBytes: Int
        var helloIntervalMilliseconds: UInt64
        var session: ReconcileSession.Configuration
        /// The node's wall clock (for `lastContactMilliseconds`).
        var wallClock: WallClock
    }

    /// What the uplink has done, for status and metrics.
    struct Statistics: Sendable, Equatable {
        var active = false
        var connected = false
        var bytesSent = 0
        var batchesSent = 0
        var batchesAcknowledged = 0
        var batchesRefused = 0
        var batchesMerged = 0
        var framesRejected = 0
        var auditStoredThrough: UInt64 = 0
        /// Wall time of the last acknowledgement or hello from the aggregator.
        var lastContactMilliseconds: UInt64?
    }

    static let auditChunk = 200

    private let settings: Settings
    private let store: EdgeStore
    private let logger: Logger
    /// Joins a delta into the node and returns once it is committed (set by ``attach(mergeDurably:)``).
    private var mergeDurably: @Sendable (SiteDelta) async throws -> Void = { _ in
        throw EdgeNodeError.uplinkNotAttached
    }
    private let auditEntries: @Sendable (_ after: UInt64, _ limit: Int) async throws -> [AuditEntry]
    /// What this node knows of its site, sent with every hello (set by ``reportSiteStatus(with:)``).
    private var siteStatus: @Sendable () async -> Fogline_V1_SiteStatus? = { nil }
    private let started = ContinuousClock.now
    private var session: ReconcileSession
    private var assembler = SyncBatchAssembler()
    private var client: MQTTClient?
    private var connection: Task<Void, Never>?
    /// Subscribed to the down topic on the current connection (a failed subscribe is retried).
    private var subscribed = false
    private var lastHelloAt: UInt64 = 0
    private var auditSentAt: UInt64?
    private(set) var statistics = Statistics()

    /// What the aggregator is known to hold durably, while this node holds the uplink role —
    /// also while its broker is unreachable, which is when the outbox fills.
    var aggregatorHolds: CausalContext? { client != nil ? session.knownRemoteHolds : nil }

    var upTopic: String { "fogline/v1/sync/\(settings.site)/\(settings.node)/up" }
    var downTopic: String { "fogline/v1/sync/\(settings.site)/\(settings.node)/down" }

    init(
        settings: Settings, store: EdgeStore, logger: Logger,
        auditEntries: @escaping @Sendable (_ after: UInt64, _ limit: Int) async throws -> [AuditEntry]
    ) {
        self.settings = settings
        self.store = store
        self.logger = logger
        self.auditEntries = auditEntries
        // Random high bits per process, as the aggregator's instances number theirs: the
        // aggregator may still hold parts of a batch this node sent before it restarted.
        session = ReconcileSession(configuration: settings.session, batchIDPrefix: UInt32.random(in: 1...UInt32.max))
    }

    /// Where batches from the aggregator are merged: the node, once it runs.
    func attach(mergeDurably: @escaping @Sendable (SiteDelta) async throws -> Void) {
        self.mergeDurably = mergeDurably
    }

    /// Where the site status sent with each hello comes from: the node, once it runs.
    func reportSiteStatus(with status: @escaping @Sendable () async -> Fogline_V1_SiteStatus?) {
        siteStatus = status
    }

    // MARK: Role

    /// Connects while `holdsRole`, disconnects when the role moved elsewhere, and drives time.
    /// Call it about once a second.
    func tick(holdsRole: Bool) async {
        if holdsRole && client == nil {
            activate()
        } else if !holdsRole, client != nil {
            await deactivate()
        }
        guard client != nil else { return }
        if statistics.connected, !subscribed { await openSession() }
        let now = monotonicMilliseconds()
        assembler.expire(at: now)
        var actions = session.tick(local: replica(), at: now)
        if session.phase == .open, session.batchesInFlight == 0, now >= lastHelloAt + settings.helloIntervalMilliseconds {
            // Ask again what the aggregator holds: it answers with what this site lacks.
            lastHelloAt = now
            actions += session.connected(local: replica(), at: now)
        }
        await perform(actions)
        await shipAudit(at: now)
    }

    /// Stops for good (shutdown).
    func stop() async { await deactivate() }

    private func activate() {
        let client: MQTTClient
        do { client = try MQTTClient(configuration: settings.client, logger: logger) } catch {
            logger.error("cannot create the cloud uplink's MQTT client; check the cloud.broker settings (TLS files, credentials); retrying in a second",
                         metadata: ["broker": "\(settings.client.host):\(settings.client.port)", "error": "\(error)"])
            return
        }
        logger.info("this node holds cloud-uplink: connecting to the aggregator's broker",
                    metadata: ["broker": "\(settings.client.host):\(settings.client.port)"])
        self.client = client
        statistics.active = true
        client.start()
        connection = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { for await event in client.events { await self.connectionChanged(event) } }
                group.addTask { for await message in client.messages { await self.received(message) } }
            }
        }
    }

    private func deactivate() async {
        guard let client else { return }
        logger.info("cloud-uplink moved to another node (or the node stops): disconnecting from the aggregator")
        self.client = nil
        session.disconnected()
        statistics.active = false
        statistics.connected = false
        await client.disconnect()
        connection?.cancel()
        connection = nil
    }

    private func connectionChanged(_ event: MQTTConnectionEvent) async {
        guard client != nil else { return }
        switch event {
        case .connected:
            statistics.connected = true
            subscribed = false
            await openSession()
        case .disconnected, .connectFailed:
            if statistics.connected { logger.warning("cloud uplink: \(event)") }
            statistics.connected = false
            subscribed = false
            session.disconnected()
        }
    }

    /// Subscribes to the down topic, then says hello. A failed subscribe is retried on the next
    /// tick: without it the aggregator's answers would never arrive.
    private func openSession() async {
        guard let client else { return }
        do { try await client.subscribe(downTopic, qos: .atLeastOnce) } catch {
            logger.error(
                "cannot subscribe to the uplink's down topic; retrying every second. Check that the cloud broker's ACL lets this client subscribe to it",
                metadata: ["topic": "\(downTopic)", "error": "\(error)"])
            return
        }
        subscribed = true
        let now = monotonicMilliseconds()
        lastHelloAt = now
        auditSentAt = nil
        await perform(session.connected(local: replica(), at: now))
    }

    // MARK: Incoming

    private func received(_ message: MQTTMessage) async {
        guard message.topic == downTopic else { return }
        let frame: Fogline_V1_SyncFrame
        do {
            frame = try SyncFrameCodec.decode(message.payload)
            guard frame.site == settings.site, frame.node == settings.node else {
                throw WireError.invalidValue(what: "a frame for \(frame.site)/\(frame.node) on \(downTopic)")
            }
        } catch {
            statistics.framesRejected += 1
            logger.warning("dropped a sync frame from the aggregator", metadata: ["error": "\(error)"])
            return
        }
        let now = monotonicMilliseconds()
        do {
            switch frame.body {
            case .hello(let hello):
                statistics.lastContactMilliseconds = settings.wallClock.milliseconds()
                await perform(session.receivedHello(try hello.toReplicaSummary(), wantsReply: hello.wantsReply, local: replica(), at: now))
            case .ack(let ack):
                statistics.lastContactMilliseconds = settings.wallClock.milliseconds()
                if ack.refused { statistics.batchesRefused += 1 } else { statistics.batchesAcknowledged += 1 }
                await perform(session.receivedAcknowledgement(
                    id: ack.batchID, merged: !ack.refused, summary: try ack.toReplicaSummary(), local: replica(), at: now))
            case .batch(let part):
                guard let batch = try assembler.assemble(part, from: "cloud", at: now) else { return }
                await perform(session.receivedBatch(id: frame.batchID, base: batch.base, batch.delta, local: replica()))
            case .auditAck(let ack):
                statistics.auditStoredThrough = ack.storedThrough
                auditSentAt = nil
                await shipAudit(at: now)
            case .audit, nil:
                break
            }
        } catch {
            statistics.framesRejected += 1
            logger.warning("dropped a sync frame from the aggregator", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Actions

    private func perform(_ actions: [ReconcileSession.Action]) async {
        let link = ReconcileLink(store: store, logger: logger, mergeDurably: mergeDurably)
        let site = settings.site, node = settings.node
        statistics.batchesMerged += await link.perform(actions, over: .init(
            hello: { summary, wantsReply in
                var hello = Fogline_V1_SyncHello(summary: summary)
                hello.wantsReply = wantsReply
                if let status = await self.siteStatus() { hello.status = status }
                await self.send(Fogline_V1_SyncFrame(site: site, node: node, body: .hello(hello)))
            },
            batch: { id, base, delta in
                var parts = SyncBatchCodec.encode(delta, batchID: id, maxPartBytes: self.settings.maxPartBytes)
                parts[0].base = Fogline_V1_CausalContext(base)
                self.statistics.batchesSent += 1
                for part in parts { await self.send(Fogline_V1_SyncFrame(site: site, node: node, batchID: id, body: .batch(part))) }
            },
            acknowledge: { id, summary, refused in
                await self.send(Fogline_V1_SyncFrame(
                    site: site, node: node, batchID: id, body: .ack(Fogline_V1_SyncAck(batchID: id, summary: summary, refused: refused))))
            }))
    }

    /// Sends the next stretch of the audit chain after what the aggregator stored, one at a time.
    private func shipAudit(at now: UInt64) async {
        guard session.phase == .open else { return }
        if let sentAt = auditSentAt, now < sentAt + settings.session.ackTimeoutMilliseconds { return }
        let entries: [AuditEntry]
        do { entries = try await auditEntries(statistics.auditStoredThrough, Self.auditChunk) } catch {
            logger.error("cannot read the audit log to ship it", metadata: ["error": "\(error)"])
            return
        }
        guard !entries.isEmpty else { return }
        var audit = Fogline_V1_SyncAudit()
        audit.entries = entries.map(Fogline_V1_AuditRecord.init)
        auditSentAt = now
        await send(Fogline_V1_SyncFrame(site: settings.site, node: settings.node, body: .audit(audit)))
    }

    private func send(_ frame: Fogline_V1_SyncFrame) async {
        guard let client else { return }
        var frame = frame
        if let key = settings.signingKey {
            do { try SyncFrameSignature.sign(&frame, with: key) } catch {
                logger.error("cannot sign a sync frame", metadata: ["error": "\(error)"])
                return
            }
        }
        let payload = SyncFrameCodec.encode(frame)
        do {
            try await client.publish(MQTTMessage(topic: upTopic, payload: payload, qos: .atLeastOnce))
            statistics.bytesSent += payload.count
        } catch {
            // Lost with the connection: the session sends it again after the next hello.
            logger.warning("uplink publish failed", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Helpers

    private func replica() -> StoreReplica { StoreReplica(store: store, logger: logger) }

    private func monotonicMilliseconds() -> UInt64 { milliseconds(since: started) }
}
