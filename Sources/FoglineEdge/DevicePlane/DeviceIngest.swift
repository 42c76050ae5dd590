/// What the edge node knows about one device's telemetry stream and connection, beside the
/// replicated state: the sequence window of the current birth epoch and the counters the admin
/// API reports (`telemetry: {received, duplicates, gaps, lastSeq}`).
public struct DeviceIngest: Sendable, Equatable {
    public var window = SequenceWindow()
    /// HLC (logical part) of the birth that started the current epoch; 0 before any birth.
    public var epoch: UInt64 = 0
    public var supportsReplay = false
    public var online = false
    /// Monotonic milliseconds of the last message from the device.
    public var lastSeenMonotonic: UInt64 = 0
    /// Readings stored (new seqs and filled gaps).
    public var received: UInt64 = 0
    /// Readings dropped because their seq was already stored.
    public var duplicates: UInt64 = 0
    /// Seqs found missing (each counted once, when the gap is seen).
    public var gaps: UInt64 = 0
    /// Missing seqs that arrived later (replayed or late).
    public var gapsFilled: UInt64 = 0

    public init() {}

    /// Highest seq stored in the current epoch.
    public var lastSeq: UInt64? { window.highest }
}
