/// Names of the replicated PN-counters that complete a device's telemetry statistics, shared by
/// the edge (which counts) and the aggregator (which reports).
public enum TelemetryCounterNames {
    /// Duplicate readings received (`telemetry.duplicates/{device}`).
    public static func duplicates(of device: String) -> String { "telemetry.duplicates/\(device)" }

    /// Raw readings dropped by an edge's retention before the aggregator held them
    /// (`telemetry.compacted/{device}`); their rollups still count them.
    public static func compacted(of device: String) -> String { "telemetry.compacted/\(device)" }
}
