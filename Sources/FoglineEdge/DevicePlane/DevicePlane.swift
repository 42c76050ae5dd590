public import FoglineCore
public import FoglineWire

/// The pure core of an edge node's device plane (DESIGN.md, "MQTT contract with devices"): it
/// turns device messages into CRDT writes, deduplicates telemetry by (device, seq), detects gaps
/// and asks replay-capable devices to fill them, tracks presence and commands, and rejects bad
/// input with a reason. It performs no I/O: every method takes the time and returns the
/// ``Action``s its shell performs (persist, publish, count).
///
/// Memory stays flat however long the node runs: ``state`` holds what the plane reads back
/// (registry, presence, twins, counters, alarms, the causal context) plus the rollup windows the
/// node still records into. Raw readings leave ``state`` as soon as the `persist` action that
/// carries them is returned, and rollup windows older than the previous minute are dropped; both
/// are durable in the store, and their dots stay in the causal context, so no peer sends them
/// back (see ``SiteState/pruneRawTelemetry(keepingPerDevice:)`` and
/// ``SiteState/pruneRollups(windowsBefore:)``).
public struct DevicePlane: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var site: String
        public var node: String
        /// A device silent for this long is marked offline.
        public var presenceTimeoutMilliseconds: UInt64 = 90_000
        /// Store raw readings besides the per-minute rollups.
        public var keepRawTelemetry = true
        /// How long a command waits for its `cmd/ack` before the next attempt.
        public var commandTimeoutMilliseconds: UInt64 = 10_000
        /// Attempts (the first publish included) before a command is `timed_out`.
        public var commandAttempts = 3
        public var payloadLimits = JSONLimits.default
        public var clock = HybridLogicalClock.Configuration()

        public init(site: String, node: String) {
            self.site = site
            self.node = node
        }
    }

    /// Wall and monotonic time of an event, read by the shell.
    public struct Moment: Sendable, Equatable {
        public var wallMilliseconds: UInt64
        public var monotonicMilliseconds: UInt64

        public init(wallMilliseconds: UInt64, monotonicMilliseconds: UInt64) {
            self.wallMilliseconds = wallMilliseconds
            self.monotonicMilliseconds = monotonicMilliseconds
        }
    }

    /// What the shell does, in order.
    public enum Action: Sendable, Equatable {
        /// Persist (and later replicate) this delta of the site state.
        case persist(SiteDelta)
        /// Persist this device's ingest bookkeeping.
        case persistIngest(device: String, DeviceIngest)
        /// Durably persist the clock's upper bound before more timestamps are handed out.
        case persistClockBound(UInt64)
        /// Persist a command's record (new, retried or final).
        case persistCommand(CommandRecord)
        case publish(topic: String, payload: [UInt8], qos: UInt8, retain: Bool)
        /// Log and count (`fogline_rejected_messages_total{reason}`); nothing was stored.
        case rejected(reason: String, topic: String, detail: String)

        /// Whether the shell writes something to the store for this action.
        public var needsStoring: Bool {
            switch self {
            case .persist, .persistIngest, .persistClockBound, .persistCommand: true
            case .publish, .rejected: false
            }
        }
    }

    /// Reasons added to the payload rejections of FoglineWire.
    public enum IngestRejection {
        /// A telemetry seq older than the dedupe window without a new birth.
        public static let seqBackwards = "seq_backwards"
        /// A `cmd/ack` for a command this node does not know.
        public static let unknownCommand = "unknown_command"
    }

    public private(set) var configuration: Configuration
    public let node: NodeID
    public private(set) var state: SiteState
    public private(set) var clock: HybridLogicalClock
    public private(set) var devices: [String: DeviceIngest]
    public private(set) var commands: [String: CommandRecord]
    /// Ingest counters over all devices since start, for metrics.
    public private(set) var totals = IngestTotals()
    /// Rollup windows starting before this were dropped from ``state`` (see ``pruneMemory(at:)``).
    private var rollupsKeptFrom: UInt64 = 0

    public struct IngestTotals: Sendable, Equatable {
        public var messages: UInt64 = 0
        public var readingsStored: UInt64 = 0
        public var duplicates: UInt64 = 0
        public var gapSeqs: UInt64 = 0
        public var gapsFilled: UInt64 = 0
        public var replayRequests: UInt64 = 0
        public var rejected: UInt64 = 0
    }

    public init(
        configuration: Configuration, state: SiteState = SiteState(), devices: [String: DeviceIngest] = [:],
        commands: [CommandRecord] = [], persistedClockBound: UInt64?, at moment: Moment
    ) {
        self.configuration = configuration
        self.node = NodeID(name: configuration.node)
        self.state = state
        self.devices = devices
        self.commands = Dictionary(commands.map { ($0.id, $0) }, uniquingKeysWith: { _, latest in latest })
        self.clock = HybridLogicalClock(
            node: node, configuration: configuration.clock, persistedBound: persistedClockBound,
            wallMilliseconds: moment.wallMilliseconds)
        // A restored state carries every raw reading and rollup window the store holds.
        _ = self.state.pruneRawTelemetry(keepingPerDevice: 0)
        pruneMemory(at: clock.lastIssued)
    }

    /// Takes new device settings (presence timeout, raw telemetry, payload limits, command
    /// timing), as `fogline-edge` does on SIGHUP. The site, node and clock settings stay: they
    /// are part of the state already written.
    public mutating func reconfigure(_ new: Configuration) {
        var merged = new
        merged.site = configuration.site
        merged.node = configuration.node
        merged.clock = configuration.clock
        configuration = merged
    }

    /// How many rollup windows the plane keeps in memory besides the current one: the previous
    /// minute, which readers of ``state`` (status, tests) still look at right after it closed.
    public static let rollupWindowsKeptInMemory: UInt64 = 1

    /// Drops rollup windows older than the previous minute of `stamp` from ``state``. The node's
    /// own HLC never goes backwards, so it never records into a dropped window again (which would
    /// restart a durable cell from zero); a remote delta may bring old windows back, and the next
    /// minute drops them again.
    private mutating func pruneMemory(at stamp: HLCTimestamp) {
        let current = TelemetryRollups.windowStart(of: stamp)
        guard current > rollupsKeptFrom else { return }
        let keepFrom = current - min(current, Self.rollupWindowsKeptInMemory * TelemetryRollups.windowMilliseconds)
        state.pruneRollups(windowsBefore: keepFrom)
        rollupsKeptFrom = current
    }

    // MARK: Device messages

    /// Handles one message from the site broker.
    public mutating func receive(topic: String, payload: [UInt8], at moment: Moment) -> [Action] {
        totals.messages += 1
        let actions = ingest(topic: topic, payload: payload, at: moment)
        for case .rejected in actions { totals.rejected += 1 }
        return actions
    }

    private mutating func ingest(topic: String, payload: [UInt8], at moment: Moment) -> [Action] {
        let parsed: FoglineTopic
        do {
            parsed = try FoglineTopic.parse(topic, expectedSite: configuration.site)
        } catch {
            return [.rejected(reason: error.reason, topic: topic, detail: error.description)]
        }
        guard case .device(_, let device, let channel) = parsed, channel.isFromDevice else {
            return []  // our own downlinks or node status: not ingest
        }
        var actions: [Action] = []
        do {
            switch channel {
            case .birth: try birth(device, BirthPayload.decode(payload, limits: configuration.payloadLimits), moment, &actions)
            case .death: try death(device, DeathPayload.decode(payload, limits: configuration.payloadLimits), moment, &actions)
            case .telemetry:
                try telemetry(device, topic, TelemetryPayload.decode(payload, limits: configuration.payloadLimits), moment, &actions)
            case .reported: try reported(device, ReportedPayload.decode(payload, limits: configuration.payloadLimits), moment, &actions)
            case .cmdAck:
                try acknowledged(device, topic, CommandAckPayload.decode(payload, limits: configuration.payloadLimits), moment, &actions)
            case .desired, .cmd, .replay: break
            }
        } catch {
            actions.append(.rejected(reason: error.reason, topic: topic, detail: error.description))
        }
        return actions
    }

    private mutating func birth(_ device: String, _ birth: BirthPayload, _ moment: Moment, _ actions: inout [Action]) {
        let stamp = timestamp(moment, &actions)
        var ingest = devices[device] ?? DeviceIngest()
        ingest.supportsReplay = birth.supportsReplay
        // A device that reconnected without restarting continues its stream (`seq` > 0): same
        // epoch, and the readings before `seq` that never arrived (a stopped broker had
        // acknowledged them to the device) are a gap like any other.
        let continues = birth.nextSeq > 0 && ingest.epoch != 0
        if continues {
            if let tail = ingest.window.expect(through: birth.nextSeq - 1) { noteGap(tail, of: device, in: &ingest, &actions) }
        } else {
            // MQTT orders nothing across topics: a device's first readings (QoS 0) can overtake
            // its birth (QoS 1). A stream that started at the birth's seq with no birth seen is
            // this birth's own stream, so its window continues; any other birth starts it again.
            let overtaken = ingest.epoch == 0 && ingest.window.first == birth.nextSeq
            if !overtaken { ingest.window = SequenceWindow(startingAt: birth.nextSeq) }
            ingest.epoch = stamp.logical
        }
        ingest.online = true
        ingest.lastSeenMonotonic = moment.monotonicMilliseconds
        devices[device] = ingest
        // `born` names the epoch (``replicatedEpoch(of:)``): a continued stream keeps it.
        var registry: [(String, FieldValue)] = [("profile", .string(birth.profile))]
        if !continues { registry.append(("born", .string(stamp.description))) }
        registry.append(("last_seen", .number(Double(stamp.milliseconds))))
        if let firmware = birth.firmware { registry.append(("fw", .string(firmware))) }
        // Replicated, so a node that takes the device over knows whether to ask for replays.
        registry.append(("replay", .bool(birth.supportsReplay)))
        if state.registry.field("first_seen", of: device) == nil {
            registry.append(("first_seen", .number(Double(stamp.milliseconds))))
        }
        actions.append(.persist(state.set(.registry, device: device, fields: registry, stamp: stamp)))
        actions.append(.persist(state.setPresence(device: device, online: true, stamp: stamp)))
        actions.append(.persistIngest(device: device, ingest))
    }

    private mutating func death(_ device: String, _ death: DeathPayload, _ moment: Moment, _ actions: inout [Action]) {
        markOffline(device, moment, &actions)
    }

    private mutating func telemetry(
        _ device: String, _ topic: String, _ reading: TelemetryPayload, _ moment: Moment, _ actions: inout [Action]
    ) {
        var ingest = devices[device] ?? DeviceIngest()
        let verdict = ingest.window.observe(reading.seq)
        if case .tooOld = verdict {
            actions.append(.rejected(
                reason: IngestRejection.seqBackwards, topic: topic,
                detail: "telemetry seq \(reading.seq) of device \(device) is more than \(SequenceWindow.size) behind "
                    + "\(ingest.lastSeq.map(String.init) ?? "-") without a new birth: the device must publish a birth when it restarts its counter"))
            return
        }
        ingest.lastSeenMonotonic = moment.monotonicMilliseconds
        if !ingest.online {
            ingest.online = true
            let stamp = timestamp(moment, &actions)
            actions.append(.persist(state.setPresence(device: device, online: true, stamp: stamp)))
        }
        switch verdict {
        case .duplicate:
            ingest.duplicates += 1
            totals.duplicates += 1
            // Replicated, so every node and the aggregator report the same count.
            actions.append(.persist(state.addToCounter(TelemetryCounterNames.duplicates(of: device), 1, by: node)))
        case .accepted, .filledGap:
            ingest.received += 1
            totals.readingsStored += 1
            if case .filledGap = verdict {
                ingest.gapsFilled += 1
                totals.gapsFilled += 1
            }
            if case .accepted(let gap?) = verdict { noteGap(gap, of: device, in: &ingest, &actions) }
            let stamp = timestamp(moment, &actions)
            let metrics = reading.values.map { RawTelemetry.Metric(name: $0.name, value: $0.value) }
            actions.append(.persist(state.recordTelemetry(
                device: device, epoch: ingest.epoch, seq: reading.seq, deviceTime: reading.deviceTime, values: metrics, stamp: stamp,
                keepRaw: configuration.keepRawTelemetry)))
            // The persist action carries the reading to the store; the plane never reads it back.
            _ = state.pruneRawTelemetry(keepingPerDevice: 0)
            pruneMemory(at: stamp)
        case .tooOld:
            break
        }
        devices[device] = ingest
        actions.append(.persistIngest(device: device, ingest))
    }

    /// Counts seqs found missing and asks a device that can replay for them.
    private mutating func noteGap(
        _ gap: ClosedRange<UInt64>, of device: String, in ingest: inout DeviceIngest, _ actions: inout [Action]
    ) {
        ingest.gaps += gap.upperBound - gap.lowerBound + 1
        totals.gapSeqs += gap.upperBound - gap.lowerBound + 1
        if ingest.supportsReplay { requestReplay(of: gap, from: device, &actions) }
    }

    private mutating func requestReplay(of seqs: ClosedRange<UInt64>, from device: String, _ actions: inout [Action]) {
        guard let request = try? ReplayRequestPayload(from: seqs.lowerBound, to: seqs.upperBound) else { return }
        totals.replayRequests += 1
        actions.append(.publish(
            topic: FoglineTopic.device(site: configuration.site, device: device, .replay).string,
            payload: request.encoded(), qos: 1, retain: false))
    }

    /// Asks for the last `count` telemetry messages on `topic` that the MQTT client dropped
    /// when this node fell behind and that no later message followed, once everything it
    /// delivered has been received here (``FoglineMQTT/MQTTClient/takeDroppedTopics(afterHandling:)``).
    /// A dropped reading that a later one follows shows up as a gap and is asked for then; these
    /// would be missing for good. A device's seq grows by one per reading within an epoch, so
    /// they are the `count` seqs after the highest received.
    public mutating func replayDropped(topic: String, count: Int) -> [Action] {
        guard count > 0,
            case .device(_, let device, .telemetry)? = try? FoglineTopic.parse(topic, expectedSite: configuration.site),
            let ingest = devices[device], ingest.supportsReplay
        else { return [] }
        let next = ingest.window.highest.map { $0 + 1 } ?? ingest.window.first ?? 0
        var actions: [Action] = []
        requestReplay(of: next...(next + UInt64(count) - 1), from: device, &actions)
        return actions
    }

    private mutating func reported(_ device: String, _ report: ReportedPayload, _ moment: Moment, _ actions: inout [Action]) {
        touch(device, moment, &actions)
        let stamp = timestamp(moment, &actions)
        actions.append(.persist(state.set(.reported, device: device, fields: report.fields, stamp: stamp)))
    }

    private mutating func acknowledged(
        _ device: String, _ topic: String, _ ack: CommandAckPayload, _ moment: Moment, _ actions: inout [Action]
    ) {
        guard var command = commands[ack.id], command.device == device else {
            actions.append(.rejected(
                reason: IngestRejection.unknownCommand, topic: topic,
                detail: "cmd/ack for command \(ack.id), which this node did not send to \(device)"))
            return
        }
        guard !command.status.isFinal else { return }  // a late duplicate ack
        command.status = switch ack.status {
        case .ok: .ok
        case .rejected: .rejected
        case .failed: .failed
        }
        command.detail = ack.detail
        commands[ack.id] = command
        actions.append(.persistCommand(command))
        recordInHistory(command, moment, &actions)
    }

    // MARK: Operator requests (admin API)

    /// Sets `desired` fields of a device and publishes the merged desired state, retained.
    public mutating func setDesired(device: String, fields: [(String, FieldValue)], at moment: Moment) -> [Action] {
        var actions: [Action] = []
        let stamp = timestamp(moment, &actions)
        actions.append(.persist(state.set(.desired, device: device, fields: fields, stamp: stamp)))
        actions.append(contentsOf: publishDesired(of: device))
        return actions
    }

    /// Sends an actuator command carrying `fence`, the owner's fencing token.
    public mutating func sendCommand(
        device: String, name: String, args: JSONValue, fence: UInt64, at moment: Moment
    ) -> (CommandRecord, [Action]) {
        var actions: [Action] = []
        let stamp = timestamp(moment, &actions)
        let id = "c-\(stamp.milliseconds)-\(stamp.counter)-\(configuration.node)"
        var command = CommandRecord(
            id: id, device: device, name: name, args: args, fence: fence, createdMilliseconds: stamp.milliseconds,
            deadlineMonotonic: moment.monotonicMilliseconds)
        attempt(&command, moment, &actions)
        commands[id] = command
        recordInHistory(command, moment, &actions)
        return (command, actions)
    }

    /// Joins a delta that came from elsewhere (a peer or the cloud); republishes `desired` for the
    /// devices whose desired fields it touched.
    public mutating func merge(remote delta: SiteDelta, at moment: Moment) -> [Action] {
        state.merge(delta)
        // Persisted below; in memory only what a local reading would leave there.
        if delta.raw != nil { _ = state.pruneRawTelemetry(keepingPerDevice: 0) }
        if delta.rollups != nil {
            rollupsKeptFrom = 0
            pruneMemory(at: clock.lastIssued)
        }
        var actions: [Action] = [.persist(delta)]
        if let desired = delta.desired {
            for device in desired.deviceIDs.sorted() { actions.append(contentsOf: publishDesired(of: device)) }
        }
        return actions
    }

    /// Records that retention dropped `count` raw readings of `device` that the aggregator never
    /// received (the outbox bound): state is never dropped, and this loss is counted, replicated.
    public mutating func recordCompacted(device: String, count: Int) -> [Action] {
        guard count > 0 else { return [] }
        return [.persist(state.addToCounter(TelemetryCounterNames.compacted(of: device), Int64(count), by: node))]
    }

    // MARK: Ownership

    /// The birth epoch of `device` as the site knows it: the HLC logical of the replicated
    /// `born` registry field (nil before any node saw a birth).
    public func replicatedEpoch(of device: String) -> UInt64? {
        state.registry.field("born", of: device)?.stamp.logical
    }

    /// Takes over `device`'s telemetry stream when this node starts serving it (a shard gained
    /// on failover or rebalance): continues the site's birth epoch, and restarts the sequence
    /// window from `storedSeqs` — the seqs of that epoch the site's replicated raw readings
    /// hold, ascending. Without this, a new owner would file readings under epoch 0 and ask the
    /// device to replay what another node already stored, and a node getting a device back
    /// would judge it by a window that stopped when it lost it.
    ///
    /// The node's own counters (`received`, `duplicates`, …) are kept: they describe its ingest.
    public mutating func adopt(device: String, storedSeqs: [UInt64], at moment: Moment) -> [Action] {
        guard let epoch = replicatedEpoch(of: device) else { return [] }
        var ingest = devices[device] ?? DeviceIngest()
        ingest.epoch = epoch
        // Every stream starts at 0 after its birth (the device contract), so seqs below the
        // first one stored are missing, not unknown.
        var window = SequenceWindow(startingAt: 0)
        for seq in storedSeqs.suffix(Int(SequenceWindow.size)) { _ = window.observe(seq) }
        ingest.window = window
        if case .bool(let replay)? = state.registry.value("replay", of: device) { ingest.supportsReplay = replay }
        ingest.online = state.presence[device]?.value.online ?? false
        // A device that stays silent from here is marked offline one timeout after the takeover.
        ingest.lastSeenMonotonic = moment.monotonicMilliseconds
        devices[device] = ingest
        return [.persistIngest(device: device, ingest)]
    }

    // MARK: Time

    /// Presence timeouts and command retries due at `moment`.
    public mutating func tick(at moment: Moment) -> [Action] {
        var actions: [Action] = []
        for (device, ingest) in devices.sorted(by: { $0.key < $1.key })
        where ingest.online && moment.monotonicMilliseconds >= ingest.lastSeenMonotonic + configuration.presenceTimeoutMilliseconds {
            markOffline(device, moment, &actions)
        }
        for id in commands.keys.sorted() {
            guard var command = commands[id], command.status == .pending,
                moment.monotonicMilliseconds >= command.deadlineMonotonic
            else { continue }
            if command.attempts >= configuration.commandAttempts {
                command.status = .timedOut
                command.detail = "no cmd/ack after \(command.attempts) attempts, \(configuration.commandTimeoutMilliseconds) ms apart"
                actions.append(.persistCommand(command))
                recordInHistory(command, moment, &actions)
            } else {
                attempt(&command, moment, &actions)
            }
            commands[id] = command
        }
        return actions
    }

    // MARK: Private

    private mutating func timestamp(_ moment: Moment, _ actions: inout [Action]) -> HLCTimestamp {
        let tick = clock.now(wallMilliseconds: moment.wallMilliseconds)
        if let bound = tick.boundToPersist { actions.append(.persistClockBound(bound)) }
        return tick.timestamp
    }

    private mutating func touch(_ device: String, _ moment: Moment, _ actions: inout [Action]) {
        var ingest = devices[device] ?? DeviceIngest()
        ingest.lastSeenMonotonic = moment.monotonicMilliseconds
        if !ingest.online {
            ingest.online = true
            let stamp = timestamp(moment, &actions)
            actions.append(.persist(state.setPresence(device: device, online: true, stamp: stamp)))
        }
        devices[device] = ingest
    }

    private mutating func markOffline(_ device: String, _ moment: Moment, _ actions: inout [Action]) {
        var ingest = devices[device] ?? DeviceIngest()
        let stamp = timestamp(moment, &actions)
        ingest.online = false
        devices[device] = ingest
        actions.append(.persist(state.setPresence(device: device, online: false, stamp: stamp)))
        actions.append(.persist(state.set(.registry, device: device, fields: [("last_seen", .number(Double(stamp.milliseconds)))], stamp: stamp)))
        actions.append(.persistIngest(device: device, ingest))
    }

    private func publishDesired(of device: String) -> [Action] {
        let fields = state.desired.fields(of: device)
        guard let newest = fields.map(\.stamp).max(),
            let payload = try? DesiredPayload(fields: fields.map { (name: $0.name, value: $0.value) }, hlc: newest.description)
        else { return [] }
        return [.publish(
            topic: FoglineTopic.device(site: configuration.site, device: device, .desired).string,
            payload: payload.encoded(), qos: 1, retain: true)]
    }

    /// Rewrites the device's replicated ``CommandHistory`` with `command`'s current status.
    private mutating func recordInHistory(_ command: CommandRecord, _ moment: Moment, _ actions: inout [Action]) {
        var history = CommandHistory(registryValue: state.registry.value(CommandHistory.registryField, of: command.device))
        history.record(CommandHistory.Entry(
            id: command.id, name: command.name, status: command.status.rawValue,
            createdMilliseconds: command.createdMilliseconds, detail: command.detail))
        let stamp = timestamp(moment, &actions)
        actions.append(.persist(state.set(
            .registry, device: command.device, fields: [(CommandHistory.registryField, history.registryValue)], stamp: stamp)))
    }

    private func attempt(_ command: inout CommandRecord, _ moment: Moment, _ actions: inout [Action]) {
        command.attempts += 1
        command.deadlineMonotonic = moment.monotonicMilliseconds + configuration.commandTimeoutMilliseconds
        actions.append(.persistCommand(command))
        guard let payload = try? CommandPayload(id: command.id, name: command.name, args: command.args, fence: command.fence) else {
            command.status = .failed
            command.detail = "the command cannot be encoded (fence above 2^53 or invalid arguments)"
            actions.append(.persistCommand(command))
            return
        }
        actions.append(.publish(
            topic: FoglineTopic.device(site: configuration.site, device: command.device, .cmd).string,
            payload: payload.encoded(), qos: 1, retain: false))
    }
}
