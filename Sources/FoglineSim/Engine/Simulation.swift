public import FoglineCore
public import FoglineWire

/// Many simulated devices as one pure, deterministic state machine.
///
/// The simulation does no I/O and reads no clock. Its transport calls it with events and
/// the current time, and performs the ``SimAction``s it returns (see ``SimAction`` for the
/// contract):
///
/// ```swift
/// var simulation = try Simulation(profiles: [(thermostat, 100)], site: "plant-1", seed: 7,
///                                 faults: .none, durationMillis: 60_000)
/// perform(simulation.start(now: clock.now))
/// while !simulation.isFinished {
///     wait until simulation.nextDeadline, or until the transport has an event:
///       connected/lost → perform(simulation.connectionChanged(device: d, connected: c, now: clock.now))
///       message        → perform(simulation.handle(device: d, topic: t, payload: p, now: clock.now))
///                        (including an edge node's status, when `awaitEdgeMillis` > 0)
///     perform(simulation.tick(now: clock.now))
/// }
/// print(simulation.report().summaryTable())
/// ```
///
/// Everything runs on the caller's thread; one thread can drive thousands of devices.
///
/// **Time** is milliseconds on the devices' clock, used for telemetry `ts`: pass Unix epoch
/// milliseconds (ideally a monotonic clock anchored to the wall clock at start, so that a
/// wall-clock step does not bunch up readings). The engine only needs time to never go
/// backwards, and treats a smaller `now` than it has seen as the latest it has seen.
///
/// **Determinism.** For a given seed, profiles, options and sequence of calls, the actions
/// are identical, byte for byte. Timers fire at their own due time, not at the `now` of the
/// `tick` that finds them, so how often `tick` is called does not change any message. Each
/// device draws from its own random streams (one for signal values, one for fault decisions
/// and timing), so one device's events do not change another's readings.
///
/// **Waiting for the edge.** With ``awaitEdgeMillis`` above 0, a device that (re)connects
/// subscribes to its channels and to every edge node's status
/// (`fogline/v1/{site}/node/+/status`), and publishes its birth only once it has seen a node
/// `online` in this connection, or once ``awaitEdgeMillis`` has passed (counted in
/// ``DeviceStatistics/edgeWaitTimeouts``). An edge publishes its retained `online` only after
/// it has subscribed, so the birth and the readings after it are not lost to an edge that is
/// itself reconnecting (the Sparkplug B primary host's STATE, simplified). Only the birth
/// after a connect is gated: an `offline` status while a device is born changes nothing.
///
/// **Scale.** All timers of all devices sit in one binary heap (a few entries per device),
/// so a tick costs O(log n) per due timer and nothing for idle devices.
public struct Simulation: Sendable {
    /// The site in every topic.
    public let site: String
    /// The seed every random stream derives from.
    public let seed: UInt64
    /// The injected faults.
    public let faults: FaultPlan
    /// How long the run lasts after ``start(now:)``; `nil` runs until ``stop(now:)``.
    public let durationMillis: Int64?
    /// The rate that replaces every profile's `rate_hz`, if given.
    public let rateOverride: Double?
    /// How long a device that (re)connected waits for an edge node's `online` status before
    /// it publishes its birth anyway; 0 publishes the birth at once (see the type's
    /// "Waiting for the edge").
    public let awaitEdgeMillis: Int64
    /// How long devices stay connected after ``durationMillis``, sampling nothing new but
    /// answering `replay` (and `cmd`, `desired`), before their `death`: a gap in the last
    /// readings is detected by the edge only when the reading after it arrives, and its
    /// request would otherwise reach a device that has already left.
    public let lingerMillis: Int64
    /// The filter every device subscribes to for the edge nodes' status when
    /// ``awaitEdgeMillis`` is above 0: `fogline/v1/{site}/node/+/status`.
    public var edgeStatusFilter: String { FoglineTopic.nodeStatusFilter(site: site) }

    /// The longest ``awaitEdgeMillis`` (and ``lingerMillis``) accepted: one day.
    public static let maxAwaitEdgeMillis: Int64 = 86_400_000

    /// Delay before reconnecting after a connection the transport reported lost or failed.
    public static let retryDelayMillis: ClosedRange<Int64> = 1_000...5_000

    let runtimes: [ProfileRuntime]
    /// Every device, profile by profile in the order given, each profile's devices in id order.
    public internal(set) var devices: [SimulatedDevice]
    var timers: TimerQueue
    private let deviceIndexByID: [String: Int]
    /// The `death` payload of the will: `{"reason":"lost"}`.
    let willPayload: [UInt8] = DeathPayload(reason: "lost").encoded()
    /// The `death` a device publishes itself at the end of the run: `{"reason":"stopped"}`.
    let goodbyePayload: [UInt8] = DeathPayload(reason: "stopped").encoded()

    /// When ``start(now:)`` was called.
    public private(set) var startedAt: Int64?
    /// When the run ended (its duration elapsed, or ``stop(now:)``).
    public private(set) var finishedAt: Int64?
    /// The latest time the simulation has been given.
    public private(set) var latestTime: Int64 = .min

    /// A simulation of `count` devices of each profile.
    ///
    /// - Parameters:
    ///   - profiles: the profiles and how many devices of each; kinds must differ, so that
    ///     device ids (`{kind}-{number}`, numbered from 1 per profile) are unique.
    ///   - site: the site segment of every topic.
    ///   - seed: the seed of every random choice.
    ///   - rateOverride: telemetry messages per second per device, replacing every profile's
    ///     `rate_hz` (`--rate`).
    ///   - faults: the faults to inject (`--fault`).
    ///   - durationMillis: the run's length (`--duration`); `nil` for no end.
    ///   - awaitEdgeMillis: how long a (re)connected device waits for an edge node's `online`
    ///     status before its birth (`--await-edge`); 0, the default, does not wait.
    ///   - lingerMillis: how long devices stay after the duration to answer the last `replay`
    ///     requests (`--linger`); 0, the default, ends the run at the duration.
    /// - Throws: ``SimulationError`` for an invalid site, a repeated kind, a negative count,
    ///   a rate, duration or edge wait out of range, or a profile the engine cannot run.
    public init(
        profiles: [(profile: Profile, count: Int)],
        site: String,
        seed: UInt64,
        rateOverride: Double? = nil,
        faults: FaultPlan = .none,
        durationMillis: Int64? = nil,
        awaitEdgeMillis: Int64 = 0,
        lingerMillis: Int64 = 0
    ) throws(SimulationError) {
        if let problem = SegmentName.problem(with: site) {
            throw SimulationError(message: "the site name \(problem); use 1 to 64 letters, digits, `_`, `.` or `-`")
        }
        if let problem = SegmentName.siteProblem(with: site) {
            throw SimulationError(message: "the site name \"\(site)\" \(problem)")
        }
        if let durationMillis, durationMillis <= 0 {
            throw SimulationError(message: "the duration must be more than 0, got \(durationMillis) ms")
        }
        if let rateOverride, !(rateOverride > 0 && rateOverride <= Profile.maxRateHz) {
            throw SimulationError(message: "the rate must be more than 0 and at most \(Int(Profile.maxRateHz)) messages per second, got \(rateOverride)")
        }
        guard awaitEdgeMillis >= 0, awaitEdgeMillis <= Self.maxAwaitEdgeMillis else {
            throw SimulationError(message: "the wait for an edge must be 0 to \(Self.maxAwaitEdgeMillis / 1_000) seconds, got \(awaitEdgeMillis) ms")
        }
        self.awaitEdgeMillis = awaitEdgeMillis
        guard lingerMillis >= 0, lingerMillis <= Self.maxAwaitEdgeMillis else {
            throw SimulationError(message: "the time to linger after the run must be 0 to \(Self.maxAwaitEdgeMillis / 1_000) seconds, got \(lingerMillis) ms")
        }
        self.lingerMillis = lingerMillis
        self.site = site
        self.seed = seed
        self.faults = faults
        self.durationMillis = durationMillis
        self.rateOverride = rateOverride

        var runtimes: [ProfileRuntime] = []
        var firstDevice = 0
        for (profile, count) in profiles {
            guard count >= 0 else {
                throw SimulationError(message: "profile \"\(profile.kind)\": the device count must be 0 or more, got \(count)")
            }
            if runtimes.contains(where: { $0.profile.kind == profile.kind }) {
                throw SimulationError(message: "the profile kind \"\(profile.kind)\" is given twice; give each profile once with the total count")
            }
            runtimes.append(try ProfileRuntime(profile: profile, firstDevice: firstDevice, count: count, rateOverride: rateOverride))
            firstDevice += count
        }
        guard firstDevice <= Int(Int32.max) else {
            throw SimulationError(message: "\(firstDevice) devices are more than one simulation can hold")
        }
        self.runtimes = runtimes

        var devices: [SimulatedDevice] = []
        devices.reserveCapacity(firstDevice)
        var indexByID: [String: Int] = [:]
        indexByID.reserveCapacity(firstDevice)
        for (profileIndex, runtime) in runtimes.enumerated() {
            for ordinal in 0..<runtime.deviceCount {
                let index = devices.count
                let id = runtime.deviceID(ordinal: ordinal)
                devices.append(SimulatedDevice(id: id, profileIndex: profileIndex, runtime: runtime, site: site, seed: seed, index: index))
                indexByID[id] = index
            }
        }
        self.devices = devices
        self.deviceIndexByID = indexByID
        self.timers = TimerQueue(reservingCapacity: devices.count * 2)
    }

    // MARK: - Reading

    /// The profiles, in the order given.
    public var profiles: [Profile] { runtimes.map(\.profile) }

    /// How many devices the simulation runs.
    public var deviceCount: Int { devices.count }

    /// The id of the device at `index`.
    public func deviceID(_ index: Int) -> String { devices[index].id }

    /// The index of the device with `id`, if there is one.
    public func deviceIndex(id: String) -> Int? { deviceIndexByID[id] }

    /// The profile of the device at `index`.
    public func profile(ofDevice index: Int) -> Profile { runtimes[devices[index].profileIndex].profile }

    /// The device's reported fields with their current values, in profile order.
    public func reportedFields(ofDevice index: Int) -> [(name: String, value: FieldValue)] {
        let names = runtimes[devices[index].profileIndex].reportedNames
        return Array(zip(names, devices[index].reportedValues)).map { (name: $0.0, value: $0.1) }
    }

    /// The topic of the device's `channel`.
    public func topic(ofDevice index: Int, _ channel: FoglineTopic.DeviceChannel) -> String {
        devices[index].topic(channel)
    }

    /// Whether the run is over: its duration elapsed or ``stop(now:)`` was called.
    public var isFinished: Bool { finishedAt != nil }

    /// The time by which ``tick(now:)`` must next be called; `nil` when nothing is scheduled
    /// (not started, finished, or every device waits for its transport).
    public var nextDeadline: Int64? {
        guard startedAt != nil, finishedAt == nil else { return nil }
        // Timers due at or after the end never fire: past it, only the linger's end is due.
        if let earliest = timers.earliest?.due, earliest < endTime ?? .max { return earliest }
        return endTime.map { $0 + lingerMillis }
    }

    /// How many timers are queued (including stale ones not yet discarded): a few per
    /// device at most, whatever the run's length.
    public var scheduledTimerCount: Int { timers.count }

    var endTime: Int64? {
        guard let startedAt, let durationMillis else { return nil }
        return startedAt + durationMillis
    }

    // MARK: - Events

    /// Starts the run: every device asks to connect. Later calls do nothing.
    public mutating func start(now: Int64) -> [SimAction] {
        guard startedAt == nil else { return [] }
        startedAt = now
        latestTime = now
        var actions: [SimAction] = []
        actions.reserveCapacity(devices.count)
        for index in devices.indices {
            devices[index].connection = .connecting
            let will = SimMessage(topic: devices[index].topic(.death), payload: willPayload, qos: .atLeastOnce, kind: .death)
            actions.append(.connect(device: index, clientID: devices[index].id, will: will))
        }
        return actions
    }

    /// Runs every timer due at or before `now` (each at its own due time) and ends the run
    /// once its duration and ``lingerMillis`` have elapsed.
    public mutating func tick(now: Int64) -> [SimAction] {
        guard startedAt != nil, finishedAt == nil else { return [] }
        let now = advanceClock(to: now)
        var actions: [SimAction] = []
        let end = endTime ?? .max
        while let earliest = timers.earliest, earliest.due <= now, earliest.due < end {
            _ = timers.removeEarliest()
            fire(earliest, actions: &actions)
        }
        if end < .max, now >= end + lingerMillis {
            finish(at: end + lingerMillis, actions: &actions)
        }
        discardStaleTimers()
        return actions
    }

    /// The transport's news about a device's connection: `true` once a `connect` or
    /// `reconnect` succeeded (the device subscribes and is born, or waits for an edge first:
    /// see ``awaitEdgeMillis``), `false` when the attempt
    /// failed or an established connection was lost (it retries after
    /// ``retryDelayMillis``). News that does not fit the device's state is ignored, such as
    /// the loss of a connection the engine dropped itself.
    public mutating func connectionChanged(device index: Int, connected: Bool, now: Int64) -> [SimAction] {
        guard startedAt != nil, finishedAt == nil, devices.indices.contains(index) else { return [] }
        let now = advanceClock(to: now)
        var actions: [SimAction] = []
        switch (devices[index].connection, connected) {
        case (.connecting, true):
            beginSession(of: index, at: now, actions: &actions)
        case (.connected, false), (.awaitingEdge, false):
            devices[index].statistics.connectionLosses += 1
            devices[index].disarmSessionTimers()
            scheduleReconnect(of: index, at: now + devices[index].faultRandom.int64(in: Self.retryDelayMillis))
        case (.connecting, false):
            devices[index].statistics.connectionLosses += 1
            scheduleReconnect(of: index, at: now + devices[index].faultRandom.int64(in: Self.retryDelayMillis))
        default:
            break
        }
        discardStaleTimers()
        return actions
    }

    /// Ends the run now (Ctrl-C): every connected device publishes `death`
    /// `{"reason":"stopped"}` and every device disconnects cleanly.
    public mutating func stop(now: Int64) -> [SimAction] {
        guard startedAt != nil, finishedAt == nil else { return [] }
        var actions: [SimAction] = []
        finish(at: advanceClock(to: now), actions: &actions)
        return actions
    }

    // MARK: - Sessions and timers

    mutating func advanceClock(to now: Int64) -> Int64 {
        latestTime = max(latestTime, now)
        return latestTime
    }

    /// A connection came up: a new session (its stream goes on) that subscribes, then either is
    /// born at once or, with ``awaitEdgeMillis``, subscribes to the nodes' status too and
    /// waits for an edge (see ``handleNodeStatus(_:topic:of:at:actions:)``).
    ///
    /// The subscriptions go first: MQTT handles one client's packets in order, so they are
    /// in place before the edge can see the birth and answer it with a command or a
    /// `replay` request. The status subscription goes last: the retained `online` it brings
    /// starts the birth, by which time the device's own subscriptions are in place.
    private mutating func beginSession(of index: Int, at now: Int64, actions: inout [SimAction]) {
        devices[index].beginSession()
        for channel: FoglineTopic.DeviceChannel in [.desired, .cmd, .replay] {
            actions.append(.subscribe(device: index, filter: devices[index].topic(channel), qos: .atLeastOnce))
        }
        guard awaitEdgeMillis > 0 else {
            publishBirth(of: index, at: now, actions: &actions)
            return
        }
        devices[index].connection = .awaitingEdge(since: now)
        actions.append(.subscribe(device: index, filter: edgeStatusFilter, qos: .atLeastOnce))
        arm(.edgeWait, of: index, at: now + awaitEdgeMillis)
    }

    /// Birth, then reported, then the session's timers: telemetry flows from here.
    mutating func publishBirth(of index: Int, at now: Int64, actions: inout [SimAction]) {
        let runtime = runtimes[devices[index].profileIndex]
        devices[index].connection = .connected(since: now)
        devices[index].edgeWaitDue = .max
        devices[index].statistics.births += 1
        actions.append(.publish(device: index, message: SimMessage(
            topic: devices[index].topic(.birth), payload: runtime.birthPayload(nextSeq: devices[index].nextSeq), qos: .atLeastOnce, kind: .birth)))
        actions.append(reportedAction(of: index))

        // Spread the first reading over one interval so that devices connecting together
        // do not all send in the same millisecond.
        let interval = runtime.telemetryInterval(elapsedMillis: now - (startedAt ?? now), burst: faults.burst)
        arm(.telemetry, of: index, at: now + devices[index].faultRandom.int64(in: 0...(interval - 1)))
        if faults.disconnectPerSecond > 0 {
            arm(.disconnectFault, of: index, at: now + nextDisconnectDelay(of: index))
        }
    }

    /// Milliseconds until the `disconnect` fault next drops the device: exponentially
    /// distributed, so that the chance of a drop within any one second is `P`, without
    /// polling every device every second.
    private mutating func nextDisconnectDelay(of index: Int) -> Int64 {
        let perSecondRate = negativeLogarithm(1 - faults.disconnectPerSecond)
        let seconds = negativeLogarithm(1 - devices[index].faultRandom.unit()) / perSecondRate
        return max(1, Int64(min(seconds * 1_000, 1e15).rounded(.up)))
    }

    private mutating func scheduleReconnect(of index: Int, at due: Int64) {
        devices[index].connection = .waitingToReconnect(until: due)
        arm(.reconnect, of: index, at: due)
    }

    mutating func arm(_ purpose: TimerPurpose, of index: Int, at due: Int64) {
        switch purpose {
        case .telemetry: devices[index].telemetryDue = due
        case .reconnect: devices[index].reconnectDue = due
        case .disconnectFault: devices[index].disconnectDue = due
        case .edgeWait: devices[index].edgeWaitDue = due
        }
        timers.schedule(TimerEntry(due: due, device: Int32(index), purpose: purpose))
    }

    /// Whether a queued entry is still armed: the device's due time for its purpose matches.
    private func isCurrent(_ entry: TimerEntry) -> Bool {
        let device = devices[Int(entry.device)]
        switch entry.purpose {
        case .telemetry: return device.telemetryDue == entry.due && device.connection.isBorn
        case .reconnect: return device.reconnectDue == entry.due
        case .disconnectFault: return device.disconnectDue == entry.due && device.connection.isBorn
        case .edgeWait:
            if case .awaitingEdge = device.connection { return device.edgeWaitDue == entry.due }
            return false
        }
    }

    /// Drops stale entries from the top of the queue, so that ``nextDeadline`` is a real one.
    private mutating func discardStaleTimers() {
        while let earliest = timers.earliest, !isCurrent(earliest) {
            _ = timers.removeEarliest()
        }
    }

    private mutating func fire(_ entry: TimerEntry, actions: inout [SimAction]) {
        guard isCurrent(entry) else { return }
        let index = Int(entry.device)
        switch entry.purpose {
        case .telemetry:
            publishReading(of: index, at: entry.due, actions: &actions)
            let runtime = runtimes[devices[index].profileIndex]
            let interval = runtime.telemetryInterval(elapsedMillis: entry.due - (startedAt ?? entry.due), burst: faults.burst)
            arm(.telemetry, of: index, at: entry.due + interval)
        case .disconnectFault:
            devices[index].statistics.faultDisconnects += 1
            devices[index].disarmSessionTimers()
            actions.append(.dropConnection(device: index))
            scheduleReconnect(of: index, at: entry.due + devices[index].faultRandom.int64(in: faults.reconnectDelayMillis))
        case .reconnect:
            devices[index].reconnectDue = .max
            devices[index].connection = .connecting
            actions.append(.reconnect(device: index))
        case .edgeWait:
            devices[index].statistics.edgeWaitTimeouts += 1
            publishBirth(of: index, at: entry.due, actions: &actions)
        }
    }

    private mutating func finish(at end: Int64, actions: inout [SimAction]) {
        for index in devices.indices {
            switch devices[index].connection {
            // Also a device not born in this connection: its previous session may still be
            // online at the edge (a broker restart fires no will).
            case .connected, .awaitingEdge:
                actions.append(.publish(device: index, message: SimMessage(
                    topic: devices[index].topic(.death), payload: goodbyePayload, qos: .atLeastOnce, kind: .death)))
                actions.append(.disconnect(device: index))
            case .connecting, .waitingToReconnect:
                actions.append(.disconnect(device: index))
            case .idle, .stopped:
                break
            }
            devices[index].connection = .stopped
            devices[index].disarmSessionTimers()
            devices[index].reconnectDue = .max
        }
        timers.removeAll()
        finishedAt = end
    }
}
