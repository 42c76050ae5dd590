public import FoglineCore

/// Encodes and decodes ``SiteDelta`` (the `SiteDelta` message of `fogline.proto`): what gossip
/// frames carry, what a `SyncBatch` payload holds, and what the edge keeps in its outbox.
///
/// The output is deterministic (the same delta always encodes to the same bytes). An absent part
/// decodes as `nil`, a present part as present, even when empty (an empty alarms kernel removes
/// what the delta's context covers, so the distinction matters).
///
/// Field maps (registry, reported, desired) are columnar: a bulk update of number fields costs
/// the 8 bytes of each value plus about one byte of everything else.
public enum SiteDeltaCodec {
    public static func encode(_ delta: SiteDelta) -> [UInt8] {
        ProtobufIO.serialize(Fogline_V1_SiteDelta(delta))
    }

    /// Decodes and validates a delta. Throws ``WireError`` for anything malformed, too new,
    /// too big or invalid; never traps on hostile input.
    public static func decode(_ bytes: some Collection<UInt8>, limits: DecodeLimits = DecodeLimits()) throws(WireError) -> SiteDelta {
        let message: Fogline_V1_SiteDelta = try ProtobufIO.parse(bytes, limits: limits)
        return try message.toSiteDelta(limits: limits)
    }
}

extension Fogline_V1_SiteDelta {
    /// The message for `delta`, stamped with the current schema version.
    public init(_ delta: SiteDelta) {
        self.init()
        schemaVersion = WireSchema.currentVersion
        context = Fogline_V1_CausalContext(delta.context)
        if let part = delta.registry { registry = FieldMapsColumns.encode(part) }
        if let part = delta.presence { presence = PresenceRows.encode(part) }
        if let part = delta.reported { reported = FieldMapsColumns.encode(part) }
        if let part = delta.desired { desired = FieldMapsColumns.encode(part) }
        if let part = delta.counters { counters = CounterRows.encode(part) }
        if let part = delta.alarms { alarms = AlarmRows.encode(part) }
        if let part = delta.rollups { rollups = RollupRows.encode(part) }
        if let part = delta.raw { raw = RawRows.encode(part) }
    }

    /// The delta, validated against `limits` (``DecodeLimits/maxEntries`` counts everything the
    /// delta holds; ``DecodeLimits/maxColumnLength`` bounds each column).
    public func toSiteDelta(limits: DecodeLimits = DecodeLimits()) throws(WireError) -> SiteDelta {
        guard schemaVersion >= 1, schemaVersion <= WireSchema.currentVersion else {
            throw .unsupportedVersion(found: schemaVersion, newestSupported: WireSchema.currentVersion)
        }
        var budget = EntryBudget(limits)
        var delta = SiteDelta(context: hasContext ? try context.toCausalContext(budget: &budget) : CausalContext())
        if hasRegistry { delta.registry = try FieldMapsColumns.decode(registry, budget: &budget, what: "registry") }
        if hasPresence { delta.presence = try PresenceRows.decode(presence, budget: &budget) }
        if hasReported { delta.reported = try FieldMapsColumns.decode(reported, budget: &budget, what: "reported") }
        if hasDesired { delta.desired = try FieldMapsColumns.decode(desired, budget: &budget, what: "desired") }
        if hasCounters { delta.counters = try CounterRows.decode(counters, budget: &budget) }
        if hasAlarms { delta.alarms = try AlarmRows.decode(alarms, budget: &budget) }
        if hasRollups { delta.rollups = try RollupRows.decode(rollups, budget: &budget) }
        if hasRaw { delta.raw = try RawRows.decode(raw, budget: &budget) }
        return delta
    }
}
