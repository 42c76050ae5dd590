/// A device's telemetry statistics over the whole site (every node's readings), as the edge's
/// admin API and the aggregator's API both report them: the distinct raw readings stored plus the
/// replicated counters. Computing it once keeps the two sides comparable.
public struct SiteTelemetryStats: Sendable, Equatable {
    /// Readings that arrived: distinct raw readings, plus those whose raw rows an edge's
    /// retention dropped before the aggregator held them (their rollups still count them).
    public var received: UInt64
    /// Of `received`, the readings kept only in rollups.
    public var compacted: UInt64
    public var duplicates: UInt64
    public var gaps: UInt64
    public var lastSeq: UInt64?

    public init(device: String, raw: RawTelemetrySummary?, counters: PNCounters) {
        compacted = UInt64(max(0, counters.value(TelemetryCounterNames.compacted(of: device))))
        duplicates = UInt64(max(0, counters.value(TelemetryCounterNames.duplicates(of: device))))
        received = (raw?.received ?? 0) + compacted
        gaps = raw?.gaps ?? 0
        lastSeq = raw?.lastSeq
    }
}
