import Foundation
public import FoglineConfig
import FoglineCore
import FoglineMQTT
import FoglineStore
import FoglineWire
public import Logging

/// The `fogline-edge run` daemon: the shell around ``DevicePlane`` and ``QuorumService``. It reads
/// messages from the site broker for the devices of the shards this node owns, feeds them to the
/// plane, and performs the actions the plane returns — batched SQLite writes, MQTT publishes,
/// metrics — and serves the admin API. It keeps no logic of its own beyond ordering I/O.
public actor EdgeNode {
    /// The configuration in effect (its device settings change on ``reload(_:)``).
    public private(set) var configuration: EdgeConfiguration
    private let logger: Logger
    private var plane: DevicePlane
    private let store: EdgeStore
    private let writer: BatchingWriter
    private let mqtt: MQTTClient
    private let metrics: EdgeMetrics
    /// Publishes decided while ingesting (replay requests), sent in order by their own task so
    /// that ingest never waits for a broker acknowledgement.
    private let outgoing: AsyncStream<MQTTMessage>
    private let outgoingContinuation: AsyncStream<MQTTMessage>.Continuation
    private var droppedIncoming = FollowedTotal()
    /// Messages taken from the MQTT client's queue and handed to the plane.
    private var messagesHandled = 0
    /// Rejections counted by the transport, quorum, gossip and uplink, followed into the metrics.
    private var peerRejections: [PeerTransport.RejectReason: FollowedTotal] = [:]
    private var quorumRejections = FollowedTotal()
    private var gossipRejections = FollowedTotal()
    private var syncRejections = FollowedTotal()
    private let started = ContinuousClock.now
    private let quorum: QuorumService
    /// Keeps the node from taking new leases while its wall clock is untrusted (within the grace).
    private let leaseGate: LeaseClockGate
    private var clockRejections = FollowedTotal()
    private var subscriptions: DeviceSubscriptions
    /// Filters subscribed on the current broker connection.
    private var subscribed: Set<String> = []
    /// Fencing tokens of the shards this node owns: commands to their devices carry them.
    private var fences: [Int: UInt64] = [:]
    /// Whether the quorum has reported this node's shards at least once.
    private var ownershipKnown = false
    /// Whether `online` status was published on the current connection (the node is ready).
    private var announced = false
    private var admin: AdminHTTPServer?
    /// The token every admin route but `/healthz` requires, when one is configured.
    private let adminToken: BearerToken?
    /// The uplink to the aggregator (when `cloud.broker` is configured); active on the node that
    /// holds the `cloud-uplink` role.
    private let uplink: CloudUplink?
    /// Anti-entropy with the site's other nodes (when there are any).
    private let gossip: SiteGossip?

    /// Where wall time is read (the system clock unless a test injects one).
    private nonisolated let wallClock: WallClock

    /// Opens (or creates) the node's database under `data_dir` and restores its state.
    public init(configuration: EdgeConfiguration, logger: Logger, wallClock: WallClock = .system) throws {
        self.configuration = configuration
        self.wallClock = wallClock
        self.logger = logger
        adminToken = try Self.adminToken(configuration.adminToken)
        do {
            try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        } catch {
            throw EdgeNodeError.dataDirectory(path: configuration.dataDirectory, reason: error.localizedDescription)
        }
        let store = try EdgeStore(
            path: configuration.dataDirectory + "/edge.sqlite",
            configuration: .init(journalFoldInterval: .milliseconds(configuration.checkpointIntervalMilliseconds)))
        self.store = store
        let metrics = EdgeMetrics()
        self.metrics = metrics
        let planeConfiguration = Self.planeConfiguration(configuration)
        let devices = Dictionary(try store.loadIngest().map { ($0.device, DeviceIngest(row: $0)) }, uniquingKeysWith: { $1 })
        let moment = DevicePlane.Moment(wallMilliseconds: wallClock.milliseconds(), monotonicMilliseconds: milliseconds(since: started))
        plane = DevicePlane(
            configuration: planeConfiguration, state: try store.loadSiteState(), devices: devices,
            commands: try store.commands().compactMap(Self.command(from:)), persistedClockBound: try store.loadHLCBound(),
            at: moment)
        leaseGate = LeaseClockGate(graceMilliseconds: UInt64(configuration.untrustedClockLeaseGraceSeconds) * 1_000)
        let trust = plane.clock.trust(wallMilliseconds: moment.wallMilliseconds)
        if case .untrusted(let behind) = trust {
            logger.warning("the wall clock is behind this node's last timestamps (no real-time clock, or NTP not synced): timestamps continue from the persisted bound; no new leases until the clock is trusted or hlc.untrusted_lease_grace_s passes", metadata: [
                "behind_ms": "\(behind)", "grace_s": "\(configuration.untrustedClockLeaseGraceSeconds)",
            ])
        }
        quorum = try QuorumService(
            site: configuration.site, node: configuration.node, settings: configuration.quorum,
            siteKey: try Self.siteKey(configuration.quorum), dataDirectory: configuration.dataDirectory, logger: logger,
            maxPeerClockOffsetMilliseconds: UInt64(configuration.maxClockOffsetMilliseconds),
            allowsNewLeases: leaseGate.allowsNewLeases(trust: trust, monotonicMilliseconds: moment.monotonicMilliseconds),
            wallClock: wallClock)
        subscriptions = DeviceSubscriptions(site: configuration.site, shardCount: configuration.quorum.shards, knownDevices: plane.deviceIDs)
        (outgoing, outgoingContinuation) = AsyncStream.makeStream(of: MQTTMessage.self, bufferingPolicy: .bufferingOldest(4_096))
        writer = BatchingWriter(
            store: store,
            // Commits are paced by the interval; the item threshold only bounds memory when
            // commits fall behind (reaching it makes the ingest loop wait for the commit).
            configuration: .init(
                interval: .milliseconds(configuration.flushIntervalMilliseconds), maxPendingItems: 50_000,
                maxBufferedItems: 100_000),
            onCommit: { report in
                metrics.storeTransactions.increment()
                if report.readings > 0 { metrics.readingsCommitted.increment(by: Int64(report.readings)) }
            },
            onError: { [logger] error in
                metrics.storeErrors.increment()
                logger.error("SQLite write failed; will retry", metadata: ["error": "\(error)"])
            })
        var mqttConfiguration = try configuration.broker.clientConfiguration(defaultClientID: "fogline-edge-\(configuration.node)")
        // Room for a few hundred milliseconds of a busy site while the ingest loop is descheduled
        // or waits for a commit (about 1 MB at most); beyond it messages are dropped and counted.
        mqttConfiguration.incomingBufferLimit = 8_192
        mqttConfiguration.will = Self.statusMessage(configuration, state: "offline", extra: [])
        mqtt = try MQTTClient(configuration: mqttConfiguration, logger: logger)
        if configuration.quorum.peers.isEmpty {
            gossip = nil
        } else {
            var session = ReconcileSession.Configuration()
            // A peer frame is at most 1 MiB (PeerTransport): a few hundred bytes per entry at most.
            session.maxBatchEntries = 2_000
            gossip = SiteGossip(quorum: quorum, store: store, logger: logger, configuration: session)
        }
        if let cloudBroker = configuration.cloud.broker {
            var session = ReconcileSession.Configuration()
            session.maxBatchEntries = configuration.cloud.maxBatchEntries
            session.maxInFlight = configuration.cloud.maxInFlightBatches
            var client = try cloudBroker.clientConfiguration(defaultClientID: "fogline-uplink-\(configuration.site)-\(configuration.node)")
            client.reconnectBackoff.maximumDelay = .seconds(configuration.cloud.reconnectMaxSeconds)
            let settings = CloudUplink.Settings(
                site: configuration.site, node: configuration.node,
                client: client,
                signingKey: try configuration.cloud.signingKey.map(SigningKeyFile.load),
                maxPartBytes: configuration.cloud.maxPartBytes,
                helloIntervalMilliseconds: UInt64(configuration.cloud.helloIntervalSeconds) * 1_000, session: session,
                wallClock: wallClock)
            let quorum = quorum
            uplink = CloudUplink(
                settings: settings, store: store, logger: logger,
                auditEntries: { after, limit in try await quorum.auditEntries(after: after, limit: limit) })
        } else {
            uplink = nil
        }
    }

    /// The device plane's settings from the node's configuration.
    static func planeConfiguration(_ configuration: EdgeConfiguration) -> DevicePlane.Configuration {
        var plane = DevicePlane.Configuration(site: configuration.site, node: configuration.node)
        plane.presenceTimeoutMilliseconds = UInt64(configuration.presenceTimeoutSeconds) * 1_000
        plane.keepRawTelemetry = configuration.keepRawTelemetry
        plane.commandTimeoutMilliseconds = UInt64(configuration.commandTimeoutMilliseconds)
        plane.commandAttempts = configuration.commandAttempts
        plane.payloadLimits = JSONLimits(maxBytes: configuration.maxPayloadBytes)
        plane.clock = .init(
            maxOffsetMilliseconds: UInt64(configuration.maxClockOffsetMilliseconds),
            persistWindowMilliseconds: UInt64(configuration.clockPersistWindowMilliseconds))
        return plane
    }

    /// Applies the device settings of `new` (the `devices:` and `commands:` sections; SIGHUP in
    /// the executable) and returns the sections whose changes wait for a restart.
    @discardableResult
    public func reload(_ new: EdgeConfiguration) -> [String] {
        let pending = configuration.sectionsNeedingRestart(toApply: new)
        let before = configuration.deviceSettings
        configuration.deviceSettings = new.deviceSettings
        plane.reconfigure(Self.planeConfiguration(configuration))
        logger.notice("reloaded the device settings", metadata: [
            "changed": "\(before != new.deviceSettings)",
            "presence_timeout_s": "\(new.presenceTimeoutSeconds)", "keep_raw_telemetry": "\(new.keepRawTelemetry)",
            "max_payload_bytes": "\(new.maxPayloadBytes)", "command_timeout_ms": "\(new.commandTimeoutMilliseconds)",
            "command_attempts": "\(new.commandAttempts)",
        ])
        if !pending.isEmpty {
            logger.warning("changes to other sections take effect at the next restart", metadata: ["sections": "\(pending.joined(separator: ", "))"])
        }
        return pending
    }

    /// What keeps the node from working, for the systemd watchdog: empty while the MQTT event
    /// loop answers and the last store commit succeeded. (A broker that is down is not a
    /// problem of this process, and restarting it would not help.)
    public func healthProblems() async -> [String] {
        var problems: [String] = []
        if !(await mqtt.loopResponds(within: .seconds(5))) { problems.append("the MQTT event loop does not respond") }
        if let error = await writer.lastError { problems.append("SQLite commits are failing: \(error)") }
        return problems
    }

    /// Runs until the task is cancelled (SIGTERM/SIGINT in the executable), then shuts down
    /// gracefully: flushes the store and publishes `offline` status. With `notifier` (run by
    /// systemd with `Type=notify`) it says `READY=1` once it serves, pings the watchdog while
    /// ``healthProblems()`` is empty, and says `STOPPING=1` when it begins to shut down.
    public func run(notifier: SystemdNotifier? = nil) async throws {
        let admin: AdminHTTPServer
        do {
            admin = try await AdminHTTPServer(host: configuration.adminHost, port: configuration.adminPort)
        } catch {
            throw EdgeNodeError.adminAddress("\(configuration.adminHost):\(configuration.adminPort)", reason: "\(error)")
        }
        self.admin = admin
        logger.info("fogline-edge started", metadata: [
            "site": "\(configuration.site)", "node": "\(configuration.node)",
            "broker": "\(configuration.broker.host):\(configuration.broker.port)",
            "admin": "http://\(configuration.adminHost):\(admin.port)", "data": "\(configuration.dataDirectory)",
            "devices": "\(plane.deviceIDs.count)",
        ])
        mqtt.start()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await admin.run { request in await self.handle(request) } }
            group.addTask { await self.consumeEvents() }
            group.addTask { await self.consumeMessages() }
            group.addTask { await self.sendOutgoing() }
            group.addTask { await self.tickEverySecond() }
            if let gossip = self.gossip {
                await gossip.attach { [weak self] delta in try await self?.mergeDurably(delta) }
                group.addTask { await gossip.run() }
            }
            if let uplink = self.uplink {
                await uplink.attach { [weak self] delta in try await self?.mergeDurably(delta) }
                await uplink.reportSiteStatus { [weak self] in await self?.siteStatus() }
                group.addTask {
                    while !Task.isCancelled {
                        await uplink.tick(holdsRole: await self.quorum.roles.contains(Self.uplinkRole))
                        try? await Task.sleep(for: .seconds(1))  // a periodic timer, not a wait for a condition
                    }
                }
            }
            group.addTask { try? await self.quorum.run() }
            group.addTask { for await fences in self.quorum.ownershipChanges { await self.ownershipChanged(fences) } }
            if let notifier {
                // Ready once the store is open and the admin API listens: the node works offline,
                // so waiting for the broker here would only make systemd time the start out.
                notifier.notify("READY=1\nSTATUS=serving site \(configuration.site) as \(configuration.node)")
                if let interval = notifier.watchdogInterval {
                    let supervisor = WatchdogSupervisor(notifier: notifier, interval: interval, logger: logger)
                    group.addTask { await supervisor.run { await self.healthProblems() } }
                }
            }
            // Any task ending (cancellation) ends the node.
            _ = await group.next()
            group.cancelAll()
        }
        notifier?.notify("STOPPING=1\nSTATUS=shutting down")
        // Shut down outside the cancelled task, so the last flush and publishes still run.
        await Task.detached { await self.shutdown() }.value
    }

    /// The bound admin port (useful with port 0).
    public var adminPort: Int? { admin?.port }

    // MARK: Loops

    private func consumeEvents() async {
        for await event in mqtt.events {
            guard !Task.isCancelled else { return }
            if case .connected = event {
                logger.info("connected to the site broker; subscribing")
                // A clean session: the broker forgot what this node subscribed to.
                subscribed = []
                announced = false
                await syncSubscriptions()
            } else {
                logger.warning("site broker: \(event)")
            }
        }
    }

    /// Handles the messages waiting in the MQTT client's queue together: one hop onto this
    /// actor, one clock read and one store batch per drain rather than per message, which
    /// under load covers hundreds of messages (handling each in its own hop, with its own store
    /// batch, cost more CPU than ingesting it).
    private func consumeMessages() async {
        while let messages = await mqtt.messages.nextBatch(maximum: Self.drainBatch) {
            let before = plane.totals
            let moment = currentMoment()
            var actions: [DevicePlane.Action] = []
            var learned = false
            for message in messages {
                if let device = DeviceSubscriptions.device(inTopic: message.topic) {
                    let device = String(device)
                    if message.topic.hasSuffix("/birth") { learned = subscriptions.learn(device: device) || learned }
                    // Another node serves this device (a birth or death seen by everyone, or a
                    // message that was in flight when the shard moved).
                    guard subscriptions.owns(device: device) else { continue }
                }
                actions += plane.receive(topic: message.topic, payload: message.payload, at: moment)
            }
            messagesHandled += messages.count
            if learned { Task { await self.syncSubscriptions() } }
            let after = plane.totals
            metrics.record(from: before, to: after)
            await perform(actions, readings: Int(after.readingsStored - before.readingsStored), queuePublishes: true)
            if messages.count < Self.drainBatch {
                // Let a few more arrive before the next drain: at 1,000 devices × 1 Hz this turns
                // a wake-up per message into 50 a second. Commits wait for the flush interval
                // (200 ms) anyway, so durability is not delayed; under load drains are full and
                // follow each other at once.
                do { try await Task.sleep(for: Self.drainPause) } catch { return }
            }
        }
    }

    /// Asks devices for their last readings that the MQTT client dropped while this node was
    /// behind and that nothing followed, so they leave no gap to notice
    /// (``DevicePlane/replayDropped(topic:count:)``).
    private func replayDroppedTelemetry() async {
        guard let dropped = mqtt.takeDroppedTopics(afterHandling: messagesHandled) else { return }
        let before = plane.totals
        var actions: [DevicePlane.Action] = []
        for (topic, count) in dropped.sorted(by: { $0.key < $1.key }) {
            guard let device = DeviceSubscriptions.device(inTopic: topic), subscriptions.owns(device: String(device)) else { continue }
            actions += plane.replayDropped(topic: topic, count: count)
        }
        metrics.record(from: before, to: plane.totals)
        await perform(actions)
    }

    /// The most messages one drain handles.
    private static let drainBatch = 1_024
    /// How long the consumer waits after a drain that did not fill a batch.
    private static let drainPause = Duration.milliseconds(20)

    /// Sends what the ingest loop queued (replay requests), in order, one acknowledged publish at a time.
    private func sendOutgoing() async {
        for await message in outgoing {
            await publish(message)
        }
    }

    private func tickEverySecond() async {
        var seconds = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))  // a periodic timer, not a wait for a condition
            seconds += 1
            if seconds % Self.retentionPeriodSeconds == 0 { await applyRawRetention() }
            await perform(plane.tick(at: currentMoment()))
            let dropped = droppedIncoming.add(mqtt.statistics.messagesDropped, to: metrics.mqttDropped)
            if dropped > 0 { logger.warning("ingest fell behind: MQTT messages dropped", metadata: ["dropped": "\(dropped)"]) }
            await replayDroppedTelemetry()
            let online = plane.state.presence.registers.values.filter(\.value.online).count
            metrics.devicesOnline.record(online)
            metrics.clockTrusted.record(clockTrust == "trusted" ? 1 : 0)
            await updateClockGate()
            await recordQuorumMetrics()
        }
    }

    /// Tells the quorum whether this node trusts its clock and may take new leases. The first
    /// NTP step forward makes the clock trusted: the HLC follows wall time again from its next
    /// timestamp, and the node takes leases and heartbeats again.
    private func updateClockGate() async {
        let moment = currentMoment()
        let trust = plane.clock.trust(wallMilliseconds: moment.wallMilliseconds)
        let allowed = leaseGate.allowsNewLeases(trust: trust, monotonicMilliseconds: moment.monotonicMilliseconds)
        let wasAllowed = await quorum.allowsNewLeases
        if allowed && !wasAllowed {
            if trust == .trusted {
                logger.notice("the wall clock is trusted now; timestamps follow it again", metadata: ["hlc": "\(plane.clock.lastIssued)"])
            } else {
                logger.warning("hlc.untrusted_lease_grace_s has passed with the clock still untrusted: taking leases anyway")
            }
        }
        await quorum.setClock(trusted: trust == .trusted, allowsNewLeases: allowed)
        clockRejections.add(await quorum.clockRejectedFrames, to: metrics.peerClockRejected)
    }

    private func recordQuorumMetrics() async {
        metrics.ownedShards.record(fences.count)
        metrics.liveMembers.record(await quorum.memberStatus().filter(\.live).count)
        if let statistics = await quorum.transportStatistics {
            for (reason, total) in statistics.rejected {
                metrics.countPeerRejections(reason, peerRejections[reason, default: FollowedTotal()].growth(to: total))
            }
        }
        quorumRejections.add(await quorum.rejectedFrames, to: metrics.quorumFramesRejected)
        if let gossip { gossipRejections.add(await gossip.rejected, to: metrics.gossipFramesRejected) }
        if let uplink { syncRejections.add(await uplink.statistics.framesRejected, to: metrics.syncFramesRejected) }
    }

    // MARK: Ownership and subscriptions

    private func ownershipChanged(_ owned: [Int: UInt64]) async {
        let gained = Set(owned.keys).subtracting(fences.keys)
        fences = owned
        ownershipKnown = true
        // Before subscribing, so the first message of a device taken over meets its stream.
        if !gained.isEmpty { await adoptDevices(ofShards: gained) }
        if subscriptions.setOwnedShards(Set(owned.keys)) || !announced {
            await syncSubscriptions()
        }
    }

    /// Continues the telemetry streams of the devices of `shards`, which this node now serves,
    /// from what the site has stored of them (see ``DevicePlane/adopt(device:storedSeqs:at:)``).
    private func adoptDevices(ofShards shards: Set<Int>) async {
        let moment = currentMoment()
        var actions: [DevicePlane.Action] = []
        for device in plane.state.registry.deviceIDs
        where shards.contains(ShardPlacement.shard(ofDevice: device, shardCount: configuration.quorum.shards)) {
            guard let epoch = plane.replicatedEpoch(of: device) else { continue }
            do {
                let seqs = try store.storedSeqs(device: device, epoch: epoch, newest: Int(SequenceWindow.size))
                actions += plane.adopt(device: device, storedSeqs: seqs, at: moment)
            } catch {
                logger.error("cannot read a device's stored readings to take it over", metadata: ["device": "\(device)", "error": "\(error)"])
            }
        }
        await perform(actions)
    }

    /// The QoS at which the broker delivers a filter's messages to this node. Telemetry comes at
    /// QoS 0: the node's session is clean, so the broker forgets a message in flight to it when
    /// the connection drops whatever its QoS, and libmosquitto acknowledges a QoS 1 message before
    /// the node sees it; what keeps readings is seq, dedupe and replay (DESIGN.md). At QoS 1 each
    /// reading cost the node a PUBACK written to the broker, the largest single item of its CPU
    /// time at 1,000 devices × 1 Hz. The rare births, deaths, reports and acks stay at QoS 1.
    static func deliveryQoS(of filter: String) -> MQTTQoS {
        filter.hasSuffix("/" + FoglineTopic.DeviceChannel.telemetry.rawValue) ? .atMostOnce : .atLeastOnce
    }

    /// Subscribes to what the owned shards need and unsubscribes from the rest; once that is
    /// done on a connection (and, for a lone node, its shards are known), announces `online` —
    /// devices wait for it before their birth.
    private func syncSubscriptions() async {
        guard mqtt.isConnected else { return }
        let wanted = subscriptions.filters
        for filter in wanted.subtracting(subscribed).sorted() {
            subscribed.insert(filter)
            do { try await mqtt.subscribe(filter, qos: Self.deliveryQoS(of: filter)) } catch {
                subscribed.remove(filter)
                logger.error("subscribe failed", metadata: ["filter": "\(filter)", "error": "\(error)"])
            }
        }
        for filter in subscribed.subtracting(wanted).sorted() {
            subscribed.remove(filter)
            try? await mqtt.unsubscribe(filter)
        }
        if !announced && (ownershipKnown || !configuration.quorum.peers.isEmpty) && mqtt.isConnected {
            announced = true
            await publish(Self.statusMessage(configuration, state: "online", extra: [("clock", .string(clockTrust))]))
        }
    }

    // MARK: Actions

    /// - Parameters:
    ///   - readings: telemetry readings the actions record (counted once committed).
    ///   - queuePublishes: hand publishes to ``sendOutgoing()`` instead of awaiting each one.
    private func perform(_ actions: [DevicePlane.Action], readings: Int = 0, queuePublishes: Bool = false) async {
        guard !actions.isEmpty else { return }
        var batch = StoreBatch(readings: readings)
        var publishes: [MQTTMessage] = []
        // The last bookkeeping of a device wins; encode it once per batch, not once per message.
        var ingest: [String: DeviceIngest] = [:]
        var ingestOrder: [String] = []
        for action in actions {
            switch action {
            case .persist(let delta):
                batch.deltas.append(delta)
            case .persistIngest(let device, let state):
                if ingest.updateValue(state, forKey: device) == nil { ingestOrder.append(device) }
            case .persistClockBound(let bound):
                batch.hlcBound = bound
            case .persistCommand(let command):
                batch.commands.append(Self.record(from: command))
            case .publish(let topic, let payload, let qos, let retain):
                publishes.append(MQTTMessage(topic: topic, payload: payload, qos: MQTTQoS(rawValue: Int32(qos)) ?? .atLeastOnce, retain: retain))
            case .rejected(let reason, let topic, let detail):
                metrics.countRejection(reason)
                logger.notice("rejected a device message", metadata: ["reason": "\(reason)", "topic": "\(topic)", "detail": "\(detail)"])
            }
        }
        // No snapshot of the plane's context: it may already cover dots of a batch still on its
        // way to the writer (this actor is reentrant), and a stored context that claims dots
        // without their rows makes gossip and the uplink tell peers they hold what they lack.
        // Each delta carries the context of its own writes, which the store folds in.
        batch.ingest = ingestOrder.map { ingest[$0]!.row(device: $0) }
        if !batch.isEmpty {
            do { try await writer.submit(batch) } catch {
                logger.error("could not queue a store write", metadata: ["error": "\(error)"])
            }
        }
        for message in publishes {
            if queuePublishes {
                if case .dropped = outgoingContinuation.yield(message) {
                    logger.warning("too many publishes waiting; dropped one", metadata: ["topic": "\(message.topic)"])
                }
            } else {
                await publish(message)
            }
        }
    }

    private func publish(_ message: MQTTMessage) async {
        do { try await mqtt.publish(message) } catch {
            logger.warning("publish failed", metadata: ["topic": "\(message.topic)", "error": "\(error)"])
        }
    }

    // MARK: Retention

    static let retentionPeriodSeconds = 60

    /// Keeps `storage.raw_retention_per_device` raw readings per device. The raw table is also
    /// the uplink's outbox: on the uplink holder, readings dropped before the aggregator held
    /// them are counted per device in a replicated counter (their rollups keep them counted).
    private func applyRawRetention() async {
        let holder = await uplink?.aggregatorHolds
        do {
            let (deleted, lost) = try store.pruneRawTelemetry(keepingPerDevice: configuration.rawRetentionPerDevice, notHeldBy: holder)
            guard deleted > 0 else { return }
            metrics.rawPruned.increment(by: Int64(deleted))
            var actions: [DevicePlane.Action] = []
            for (device, count) in lost.sorted(by: { $0.key < $1.key }) {
                actions += plane.recordCompacted(device: device, count: count)
                metrics.rawLost.increment(by: Int64(count))
            }
            if !lost.isEmpty {
                logger.warning("raw readings dropped before the aggregator received them (outbox full); their rollups remain", metadata: [
                    "readings": "\(lost.values.reduce(0, +))", "devices": "\(lost.count)",
                ])
            }
            await perform(actions)
        } catch {
            logger.error("raw telemetry retention failed", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Replication

    static let uplinkRole = "cloud-uplink"

    /// Joins a delta from the aggregator (or a peer) and returns once it is committed, so that
    /// its acknowledgement never claims what a crash could still lose.
    private func mergeDurably(_ delta: SiteDelta) async throws {
        await perform(plane.merge(remote: delta, at: currentMoment()))
        _ = try await writer.flush()
    }

    // MARK: Admin API

    private func handle(_ request: AdminRequest) async -> AdminResponse {
        let path = request.path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.path
        if let refusal = AdminAccess.refusal(of: request, token: adminToken) { return refusal }
        switch (request.method, path) {
        case ("GET", "/healthz"):
            let status = !mqtt.isConnected ? "broker_unreachable" : announced ? "ok" : "starting"
            return .json(status == "ok" ? 200 : 503, .object([(key: "status", value: .string(status))]))
        case ("GET", "/metrics"):
            return AdminResponse(status: 200, contentType: "text/plain; version=0.0.4", body: metrics.render())
        case ("GET", "/v1/status"):
            return .json(200, await statusJSON())
        case ("GET", "/v1/audit"):
            return await auditJSON(query: request.path.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init))
        default:
            switch QuorumRoutes.route(request) {
            case .invalid(let response)?: return response
            case .operation(let operation, let key)?: return QuorumRoutes.response(to: await quorum.perform(operation, key: key))
            case nil: break
            }
            let shardCount = configuration.quorum.shards
            let fence: (String) -> UInt64? = { [fences] device in fences[ShardPlacement.shard(ofDevice: device, shardCount: shardCount)] }
            let siteRaw: (String) -> RawTelemetrySummary? = { [store, logger] device in
                do { return try store.rawTelemetrySummary(device: device) } catch {
                    logger.error("cannot read the site's raw readings", metadata: ["device": "\(device)", "error": "\(error)"])
                    return nil
                }
            }
            guard let (response, actions) = AdminAPI.handle(
                request, plane: &plane, fence: fence, siteRaw: siteRaw, at: currentMoment())
            else {
                return .error(404, "no route \(request.method) \(path); see the README's admin API section")
            }
            await perform(actions)
            // An operator's write (desired, a command) is answered once it is durable, so a
            // node killed right after its 200 still has it and passes it on when it restarts.
            if request.method != "GET", actions.contains(where: \.needsStoring) {
                do { try await writer.flush() } catch {
                    logger.error("an admin write is not durable yet", metadata: ["path": "\(path)", "error": "\(error)"])
                    return .error(503, "the write is applied on this node but not yet stored (\(error)); the node keeps retrying; check the data directory's disk")
                }
            }
            return response
        }
    }

    /// `GET /v1/audit[?after=N]`: this node's decisions (up to 1,000 after index N), each with
    /// its hash and the previous one's, and whether the stretch verifies.
    private func auditJSON(query: String?) async -> AdminResponse {
        let after = query?.split(separator: "&").compactMap { part -> UInt64? in
            let pair = part.split(separator: "=", maxSplits: 1)
            return pair.count == 2 && pair[0] == "after" ? UInt64(pair[1]) : nil
        }.first ?? 0
        let entries: [AuditEntry]
        do { entries = try await quorum.auditEntries(after: after) } catch {
            return .error(500, "cannot read the audit log: \(error)")
        }
        let anchor: AuditChain.Anchor = after == 0
            ? .genesis
            : (try? await quorum.auditEntries(after: after - 1, limit: 1).first).flatMap { $0.map(AuditChain.Anchor.init(after:)) } ?? .genesis
        let verified = after == 0 || anchor.index == after ? AuditChain.verify(entries, from: anchor).isValid : false
        return .json(200, .object([
            (key: "node", value: .string(configuration.node)),
            (key: "verified", value: .bool(verified)),
            (key: "entries", value: .array(entries.map { entry in
                .object([
                    (key: "index", value: .number(Double(entry.index))), (key: "hlc", value: .string(entry.timestamp.description)),
                    (key: "kind", value: .string(entry.kind)), (key: "key", value: .string(entry.key)),
                    (key: "detail", value: .string(entry.detail)), (key: "previous", value: .string(entry.previousHash.description)),
                    (key: "hash", value: .string(entry.hash.description)),
                ])
            })),
        ]))
    }

    private func statusJSON() async -> JSONValue {
        let online = plane.state.presence.registers.values.filter(\.value.online).count
        let peersAhead = await quorum.peersAhead
        let members: [JSONValue] = await quorum.memberStatus().map { member in
            let phi: JSONValue = member.phi.map { .number($0.isFinite ? ($0 * 100).rounded() / 100 : 1e9) } ?? .null
            // Set while this node rejects the member's frames because its clock runs ahead.
            let ahead: JSONValue = peersAhead[member.name].map { .number(Double($0)) } ?? .null
            // What the member said of itself in its latest heartbeat (null for this node itself).
            let report = member.report
            return JSONValue.object([
                (key: "name", value: .string(member.name)), (key: "live", value: .bool(member.live)),
                (key: "phi", value: phi), (key: "clockAheadMs", value: ahead),
                (key: "shards", value: report.map { .number(Double($0.shardsOwned)) } ?? .null),
                (key: "roles", value: report.map { .array($0.roles.map(JSONValue.string)) } ?? .null),
                (key: "clockTrusted", value: report.map { .bool($0.clockTrusted) } ?? .null),
                (key: "hlcMs", value: report.map { .number(Double($0.hlcPhysicalMilliseconds)) } ?? .null),
            ])
        }
        let moment = currentMoment()
        let trust = plane.clock.trust(wallMilliseconds: moment.wallMilliseconds)
        let leases: String
        var graceRemaining = JSONValue.null
        switch leaseGate.state(trust: trust, monotonicMilliseconds: moment.monotonicMilliseconds) {
        case .trusted: leases = "allowed"
        case .graceElapsed: leases = "allowed_after_grace"
        case .waiting(let remaining):
            leases = "refused"
            graceRemaining = .number(Double((remaining + 999) / 1_000))
        }
        var behind = JSONValue.null
        if case .untrusted(let milliseconds) = trust { behind = .number(Double(milliseconds)) }
        let clockDetail = JSONValue.object([
            (key: "behindMs", value: behind), (key: "leases", value: .string(leases)), (key: "graceRemainingS", value: graceRemaining),
        ])
        let settings = JSONValue.object([
            (key: "presenceTimeoutS", value: .number(Double(configuration.presenceTimeoutSeconds))),
            (key: "keepRawTelemetry", value: .bool(configuration.keepRawTelemetry)),
            (key: "maxPayloadBytes", value: .number(Double(configuration.maxPayloadBytes))),
            (key: "commandTimeoutMs", value: .number(Double(configuration.commandTimeoutMilliseconds))),
            (key: "commandAttempts", value: .number(Double(configuration.commandAttempts))),
        ])
        let roles = await quorum.roles
        var uplinkJSON = JSONValue.null
        if let uplink, let cloudBroker = configuration.cloud.broker {
            let statistics = await uplink.statistics
            uplinkJSON = .object([
                (key: "broker", value: .string("mqtt://\(cloudBroker.host):\(cloudBroker.port)")),
                (key: "active", value: .bool(statistics.active)),
                (key: "connected", value: .bool(statistics.connected)),
                (key: "bytesSent", value: .number(Double(statistics.bytesSent))),
                (key: "batchesSent", value: .number(Double(statistics.batchesSent))),
                (key: "batchesAcknowledged", value: .number(Double(statistics.batchesAcknowledged))),
                (key: "batchesRefused", value: .number(Double(statistics.batchesRefused))),
                (key: "batchesMerged", value: .number(Double(statistics.batchesMerged))),
                (key: "framesRejected", value: .number(Double(statistics.framesRejected))),
                (key: "auditStoredThrough", value: .number(Double(statistics.auditStoredThrough))),
                (key: "lastContactMs", value: statistics.lastContactMilliseconds.map { .number(Double($0)) } ?? .null),
            ])
        }
        var gossipJSON = JSONValue.null
        if let gossip {
            gossipJSON = .object([
                (key: "deltasMerged", value: .number(Double(await gossip.merged))),
                (key: "framesRejected", value: .number(Double(await gossip.rejected))),
            ])
        }
        // Committed state only, as gossip and the uplink ship it.
        let replicaDots = (try? store.replicaSummary().context.dotCount).map { JSONValue.number(Double($0)) } ?? .null
        return .object([
            (key: "replica", value: .object([(key: "dots", value: replicaDots)])),
            (key: "uplink", value: uplinkJSON),
            (key: "gossip", value: gossipJSON),
            (key: "site", value: .string(configuration.site)),
            (key: "node", value: .string(configuration.node)),
            (key: "broker", value: .object([
                (key: "url", value: .string("mqtt://\(configuration.broker.host):\(configuration.broker.port)")),
                (key: "connected", value: .bool(mqtt.isConnected)),
            ])),
            (key: "clock", value: .string(clockTrust)),
            (key: "clockDetail", value: clockDetail),
            (key: "hlc", value: .string(plane.clock.lastIssued.description)),
            (key: "devices", value: .object([
                (key: "known", value: .number(Double(plane.deviceIDs.count))),
                (key: "online", value: .number(Double(online))),
                (key: "settings", value: settings),
            ])),
            (key: "telemetry", value: .object([
                (key: "messages", value: .number(Double(plane.totals.messages))),
                (key: "stored", value: .number(Double(plane.totals.readingsStored))),
                (key: "duplicates", value: .number(Double(plane.totals.duplicates))),
                (key: "rejected", value: .number(Double(plane.totals.rejected))),
            ])),
            (key: "quorum", value: .object([
                (key: "members", value: .array(members)),
                (key: "shards", value: .object([
                    (key: "count", value: .number(Double(configuration.quorum.shards))),
                    (key: "owned", value: .array(fences.keys.sorted().map { .number(Double($0)) })),
                ])),
                (key: "roles", value: .array(roles.sorted().map(JSONValue.string))),
            ])),
            (key: "uptimeSeconds", value: .number(Double((ContinuousClock.now - started).components.seconds))),
        ])
    }

    /// What this node tells the aggregator about its site with each hello (the dashboard's nodes):
    /// its own clock, HLC, shards and roles; its failure detector's view of the other members and
    /// what each said of itself in its latest heartbeat. A member whose frames this node rejects
    /// for running ahead is reported with an untrusted clock.
    func siteStatus() async -> Fogline_V1_SiteStatus {
        var status = Fogline_V1_SiteStatus()
        status.hlcPhysicalMs = plane.clock.lastIssued.milliseconds
        status.clockTrusted = clockTrust == "trusted"
        status.shardCount = UInt32(configuration.quorum.shards)
        status.shardsOwned = UInt32(fences.count)
        status.roles = await quorum.roles.sorted()
        let peersAhead = await quorum.peersAhead
        status.members = await quorum.memberStatus().filter { $0.name != configuration.node }.map { member in
            var health = Fogline_V1_MemberHealth()
            health.node = member.name
            health.live = member.live
            health.phi = member.phi.map { $0.isFinite ? $0 : 1e9 } ?? 0
            if let report = member.report {
                health.reported = true
                health.clockTrusted = report.clockTrusted && peersAhead[member.name] == nil
                health.shardsOwned = UInt32(report.shardsOwned)
                health.roles = report.roles
                health.hlcPhysicalMs = report.hlcPhysicalMilliseconds
            }
            return health
        }
        return status
    }

    private var clockTrust: String {
        switch plane.clock.trust(wallMilliseconds: wallClock.milliseconds()) {
        case .trusted: "trusted"
        case .untrusted: "untrusted"
        }
    }

    // MARK: Shutdown

    private func shutdown() async {
        logger.info("shutting down: flushing the store and publishing offline status")
        do { _ = try await writer.flush() } catch {
            logger.error("final flush failed", metadata: ["error": "\(error)"])
        }
        outgoingContinuation.finish()
        await uplink?.stop()
        await publish(Self.statusMessage(configuration, state: "offline", extra: []))
        await mqtt.disconnect()
        await admin?.close()
        try? store.close()
    }

    // MARK: Helpers

    static func statusMessage(_ configuration: EdgeConfiguration, state: String, extra: [(String, JSONValue)]) -> MQTTMessage {
        let payload = (try? NodeStatusPayload(state: state, extra: extra.map { (key: $0.0, value: $0.1) }))?.encoded() ?? []
        return MQTTMessage(
            topic: FoglineTopic.nodeStatus(site: configuration.site, node: configuration.node).string,
            payload: payload, qos: .atLeastOnce, retain: true)
    }

    private nonisolated func currentMoment() -> DevicePlane.Moment {
        DevicePlane.Moment(wallMilliseconds: wallClock.milliseconds(), monotonicMilliseconds: milliseconds(since: started))
    }

    /// The site's HMAC key for peer frames, from `FOGLINE_SITE_KEY` or `quorum.site_key_file`
    /// (needed with peers).
    static func siteKey(_ settings: EdgeConfiguration.Quorum) throws -> [UInt8] {
        guard let source = settings.siteKey, !settings.peers.isEmpty else { return [] }
        let key: [UInt8]
        do { key = try source.bytes() } catch { throw EdgeNodeError.siteKey(source: source) }
        guard key.count >= 32 else { throw EdgeNodeError.siteKey(source: source) }
        return key
    }

    /// The admin API's token, when one is configured; it must be long enough to be unguessable.
    static func adminToken(_ source: SecretSource?) throws -> BearerToken? {
        do { return try BearerToken.read(from: source, name: "the admin token") } catch { throw EdgeNodeError.unreadableSecret(error) }
    }

    static func record(from command: CommandRecord) -> FoglineStore.CommandRecord {
        FoglineStore.CommandRecord(
            id: command.id, device: command.device, name: command.name, argumentsJSON: command.args.serializedString(),
            fence: command.fence, status: CommandStatus(rawValue: command.status.rawValue), attempts: UInt32(command.attempts),
            createdMilliseconds: command.createdMilliseconds, deadlineMilliseconds: command.deadlineMonotonic,
            detail: command.detail)
    }

    /// A stored command; pending ones restart their timeout from now (monotonic time restarts
    /// with the process).
    static func command(from record: FoglineStore.CommandRecord) -> CommandRecord? {
        guard let status = CommandRecord.Status(rawValue: record.status.rawValue),
            let args = try? StrictJSON.parse(Array(record.argumentsJSON.utf8))
        else { return nil }
        return CommandRecord(
            id: record.id, device: record.device, name: record.name, args: args, fence: record.fence, status: status,
            attempts: Int(record.attempts), detail: record.detail, createdMilliseconds: record.createdMilliseconds,
            deadlineMonotonic: 0)
    }
}

/// Start-up failures, each saying what to do.
public enum EdgeNodeError: Error, CustomStringConvertible {
    case unreadableSecret(SecretError)
    case dataDirectory(path: String, reason: String)
    case adminAddress(String, reason: String)
    case siteKey(source: SecretSource)
    case signingKey(source: SecretSource, reason: String)
    /// A programming error: the uplink merged before the node attached itself.
    case uplinkNotAttached

    public var description: String {
        switch self {
        case .dataDirectory(let path, let reason):
            "Cannot create the data directory \(path) (\(reason)). Check --data or data_dir, and that this user may write there."
        case .adminAddress(let address, let reason):
            "Cannot serve the admin API on \(address) (\(reason)). Pick a free address with --admin or admin.listen."
        case .siteKey(.file(let path)):
            "Cannot use the site key file \(path): it must be readable and hold at least 32 bytes (e.g. `head -c 32 /dev/urandom > \(path)`, the same file on every node of the site)."
        case .siteKey(.environment(let variable)):
            "Cannot use the site key in \(variable): it must hold at least 32 characters (e.g. `openssl rand -hex 32`, the same on every node of the site)."
        case .signingKey(.file(let path), let reason):
            "Cannot use the signing key file \(path) (\(reason)). Create one with `fogline-edge keygen --out \(path)` and put the public key it prints into the aggregator's configuration."
        case .signingKey(.environment(let variable), let reason):
            "Cannot use the signing key in \(variable) (\(reason)). It must be the base64 text `fogline-edge keygen --out FILE` writes."
        case .uplinkNotAttached:
            "The cloud uplink received a batch before the node was running; it will be sent again."
        case .unreadableSecret(let error):
            error.description
        }
    }
}

extension EdgeConfiguration.Broker {
    /// The MQTT client settings for this broker: credentials (the password read from its file),
    /// TLS and the in-flight window.
    func clientConfiguration(defaultClientID: String) throws -> MQTTClientConfiguration {
        var settings = MQTTClientConfiguration(host: host, port: port, clientID: clientID ?? defaultClientID)
        settings.username = username
        if let password {
            do { settings.password = try password.text() } catch { throw EdgeNodeError.unreadableSecret(error) }
        }
        if usesTLS || caFile != nil || certFile != nil {
            settings.tls = MQTTTLSConfiguration(caFile: caFile, certFile: certFile, keyFile: keyFile)
        }
        settings.sendMaximum = sendMaximum
        return settings
    }
}
