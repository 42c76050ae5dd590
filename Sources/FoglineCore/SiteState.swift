/// An active alarm: a device and an alarm code (`"overtemp"`, `"door_forced"`, …).
public struct Alarm: Hashable, Sendable, Comparable {
    public var device: String
    public var code: String

    public init(device: String, code: String) {
        self.device = device
        self.code = code
    }

    public static func < (lhs: Alarm, rhs: Alarm) -> Bool { (lhs.device, lhs.code) < (rhs.device, rhs.code) }
}

/// The whole replicated state of a site: one composite delta-state CRDT whose parts share one
/// causal context (DESIGN.md, "Replicated state").
///
/// Every mutator stamps the write with the given HLC timestamp, takes the next dot of the
/// timestamp's node, applies the write here and returns the delta to ship. `delta(since:)`
/// returns what a replica with a given causal context lacks; `merge` joins any delta or state.
public struct SiteState: Sendable, Equatable {
    public private(set) var context = CausalContext()
    /// Device registry: `profile`, `fw`, `first_seen`, `last_seen`, … per device.
    public private(set) var registry = FieldMaps()
    public private(set) var presence = LWWRegisterMap<String, Presence>()
    /// Twin `reported` fields per device.
    public private(set) var reported = FieldMaps()
    /// Twin `desired` fields per device.
    public private(set) var desired = FieldMaps()
    public private(set) var counters = PNCounters()
    public private(set) var alarms = DotKernel<Alarm>()
    public private(set) var rollups = TelemetryRollups()
    public private(set) var raw = RawTelemetry()

    public init() {}

    /// This whole state as a delta (what a replica that has nothing lacks).
    public var asDelta: SiteDelta {
        SiteDelta(
            context: context, registry: registry, presence: presence, reported: reported, desired: desired,
            counters: counters, alarms: alarms, rollups: rollups, raw: raw)
    }

    /// What this replica tells a peer before anti-entropy.
    public var summary: ReplicaSummary { ReplicaSummary(context: context, kernelDigest: alarms.digest) }

    /// What a replica that sent `peer` lacks, or `nil` if it lacks nothing.
    public func delta(since peer: ReplicaSummary) -> SiteDelta? {
        func part<Store: DotStore>(_ store: Store) -> Store? {
            store.delta(since: peer.context, peerDigest: peer.kernelDigest, ownContext: context)
        }
        let delta = SiteDelta(
            context: context, registry: part(registry), presence: part(presence), reported: part(reported),
            desired: part(desired), counters: part(counters), alarms: part(alarms), rollups: part(rollups),
            raw: part(raw))
        if delta.carriesNoParts && peer.context.includes(context) { return nil }
        return delta
    }

    /// Joins a delta (or a whole state's `asDelta`). Associative, commutative and idempotent.
    public mutating func merge(_ delta: SiteDelta) {
        let own = context
        let other = delta.context
        if let part = delta.registry { registry.merge(part, otherContext: other, ownContext: own) }
        if let part = delta.presence { presence.merge(part, otherContext: other, ownContext: own) }
        if let part = delta.reported { reported.merge(part, otherContext: other, ownContext: own) }
        if let part = delta.desired { desired.merge(part, otherContext: other, ownContext: own) }
        if let part = delta.counters { counters.merge(part, otherContext: other, ownContext: own) }
        if let part = delta.alarms { alarms.merge(part, otherContext: other, ownContext: own) }
        if let part = delta.rollups { rollups.merge(part, otherContext: other, ownContext: own) }
        if let part = delta.raw { raw.merge(part, otherContext: other, ownContext: own) }
        context.formUnion(other)
    }

    public mutating func merge(_ other: SiteState) { merge(other.asDelta) }

    // MARK: Mutators

    public enum FieldGroup: Sendable { case registry, reported, desired }

    /// Sets `fields` of `device` in `group`, each as its own LWW write stamped `stamp`.
    public mutating func set(
        _ group: FieldGroup, device: String, fields: some Sequence<(String, FieldValue)>, stamp: HLCTimestamp
    ) -> SiteDelta {
        var part = FieldMaps()
        var dots = CausalContext()
        var dot = context.nextDot(for: stamp.node)
        for (name, value) in fields {
            part.insert(device: device, field: .init(name: name, value: value, stamp: stamp, dot: dot))
            dots.insert(dot)
            dot.counter += 1
        }
        var delta = SiteDelta(context: dots)
        switch group {
        case .registry: delta.registry = part
        case .reported: delta.reported = part
        case .desired: delta.desired = part
        }
        merge(delta)
        return delta
    }

    /// Records whether `device` is online, as of `stamp`.
    public mutating func setPresence(device: String, online: Bool, stamp: HLCTimestamp) -> SiteDelta {
        let dot = context.nextDot(for: stamp.node)
        var part = LWWRegisterMap<String, Presence>()
        part.insert(
            LWWRegister(value: Presence(online: online, sinceMilliseconds: stamp.milliseconds), stamp: stamp, dotCounter: dot.counter),
            for: device)
        return apply(SiteDelta(context: CausalContext([dot]), presence: part))
    }

    /// Adds `amount` (negative to subtract) to counter `name` on behalf of `node`.
    public mutating func addToCounter(_ name: String, _ amount: Int64, by node: NodeID) -> SiteDelta {
        let dot = context.nextDot(for: node)
        let part = counters.add(amount, to: name, dot: dot)
        var delta = SiteDelta(context: CausalContext([dot]))
        delta.counters = part
        context.insert(dot)
        return delta
    }

    public mutating func raise(_ alarm: Alarm, by node: NodeID) -> SiteDelta {
        let (kernel, dots) = DotKernel.adding(alarm, dot: context.nextDot(for: node), replacing: alarms.dots(of: alarm))
        return apply(SiteDelta(context: dots, alarms: kernel))
    }

    public mutating func clear(_ alarm: Alarm, by node: NodeID) -> SiteDelta {
        let (kernel, dots) = DotKernel<Alarm>.removing(alarms.dots(of: alarm), dot: context.nextDot(for: node))
        return apply(SiteDelta(context: dots, alarms: kernel))
    }

    /// Ingests one telemetry reading: updates the per-minute rollup of each metric and, when
    /// `keepRaw`, stores the raw reading under (device, epoch, seq).
    public mutating func recordTelemetry(
        device: String, epoch: UInt64, seq: UInt64, deviceTime: Int64?, values: [RawTelemetry.Metric],
        stamp: HLCTimestamp, keepRaw: Bool
    ) -> SiteDelta {
        var delta = SiteDelta(context: CausalContext())
        var rollupDelta = TelemetryRollups()
        for metric in values {
            let dot = context.nextDot(for: stamp.node)
            let cell = rollups.record(device: device, metric: metric.name, value: metric.value, stamp: stamp, dot: dot)
            rollupDelta.merge(cell, otherContext: delta.context, ownContext: delta.context)
            context.insert(dot)
            delta.context.insert(dot)
        }
        if !rollupDelta.isEmpty { delta.rollups = rollupDelta }
        if keepRaw {
            let dot = context.nextDot(for: stamp.node)
            var part = RawTelemetry()
            part.insert(RawTelemetry.Reading(values: values, deviceTime: deviceTime, stamp: stamp, dotCounter: dot.counter),
                        for: RawTelemetry.Key(device: device, epoch: epoch, seq: seq))
            raw.merge(part, otherContext: delta.context, ownContext: context)
            context.insert(dot)
            delta.context.insert(dot)
            delta.raw = part
        }
        return delta
    }

    /// Local retention of raw readings; returns how many were dropped. Not replicated.
    public mutating func pruneRawTelemetry(keepingPerDevice limit: Int) -> Int {
        raw.prune(keepingPerDevice: limit)
    }

    /// Local retention of rollups: drops the cells of windows starting before `windowStart`;
    /// returns how many were dropped. Not replicated, and the context keeps their dots, so no
    /// peer sends them back (see ``TelemetryRollups/prune(windowsBefore:)``). Keep at least the
    /// window of the newest timestamp this replica issued: its own writer still records into it.
    @discardableResult
    public mutating func pruneRollups(windowsBefore windowStart: UInt64) -> Int {
        rollups.prune(windowsBefore: windowStart)
    }

    // MARK: Private

    private mutating func apply(_ delta: SiteDelta) -> SiteDelta {
        merge(delta)
        return delta
    }
}

/// A delta of the site state: the parts it carries (absent parts contribute nothing) and the
/// causal context they came with.
public struct SiteDelta: Sendable, Equatable {
    public var context: CausalContext
    public var registry: FieldMaps?
    public var presence: LWWRegisterMap<String, Presence>?
    public var reported: FieldMaps?
    public var desired: FieldMaps?
    public var counters: PNCounters?
    public var alarms: DotKernel<Alarm>?
    public var rollups: TelemetryRollups?
    public var raw: RawTelemetry?

    public init(
        context: CausalContext, registry: FieldMaps? = nil, presence: LWWRegisterMap<String, Presence>? = nil,
        reported: FieldMaps? = nil, desired: FieldMaps? = nil, counters: PNCounters? = nil,
        alarms: DotKernel<Alarm>? = nil, rollups: TelemetryRollups? = nil, raw: RawTelemetry? = nil
    ) {
        self.context = context
        self.registry = registry
        self.presence = presence
        self.reported = reported
        self.desired = desired
        self.counters = counters
        self.alarms = alarms
        self.rollups = rollups
        self.raw = raw
    }

    /// `true` when the delta carries only a causal context.
    public var carriesNoParts: Bool {
        registry == nil && presence == nil && reported == nil && desired == nil && counters == nil
            && alarms == nil && rollups == nil && raw == nil
    }

    /// `true` when the only part carried is the alarm kernel.
    public var carriesOnlyAlarms: Bool {
        alarms != nil && registry == nil && presence == nil && reported == nil && desired == nil && counters == nil
            && rollups == nil && raw == nil
    }

    /// Joins two deltas into one (a delta group), e.g. to batch several mutations into one frame.
    public mutating func formJoin(_ other: SiteDelta) {
        var state = SiteState()
        state.merge(self)
        state.merge(other)
        var joined = state.asDelta
        // Keep absent parts absent: an empty kernel would otherwise remove what the context covers.
        if alarms == nil && other.alarms == nil { joined.alarms = nil }
        if registry == nil && other.registry == nil { joined.registry = nil }
        if presence == nil && other.presence == nil { joined.presence = nil }
        if reported == nil && other.reported == nil { joined.reported = nil }
        if desired == nil && other.desired == nil { joined.desired = nil }
        if counters == nil && other.counters == nil { joined.counters = nil }
        if rollups == nil && other.rollups == nil { joined.rollups = nil }
        if raw == nil && other.raw == nil { joined.raw = nil }
        self = joined
    }
}
