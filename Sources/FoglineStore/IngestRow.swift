/// The telemetry ingest bookkeeping of one device, as the edge's ingest state machine keeps it:
/// which birth (epoch) the device is in, the highest `seq` seen, counts, and the missing `seq`
/// ranges still to be replayed.
///
/// The store does not interpret `missingRanges`: the ingest state machine owns that format, and
/// the store keeps the bytes exactly.
public struct IngestRow: Sendable, Hashable {
    public var device: String
    /// How many births the device has announced; `seq` restarts from 0 at each.
    public var epoch: UInt64
    /// The highest `seq` received in this epoch, or `nil` before the first reading.
    public var lastSeq: UInt64?
    /// Readings accepted (first deliveries only).
    public var received: UInt64
    /// Readings dropped as already received.
    public var duplicates: UInt64
    /// `seq` values skipped by the device and never filled.
    public var gaps: UInt64
    /// The ingest state machine's encoding of the missing `seq` ranges (empty when none).
    public var missingRanges: [UInt8]

    public init(
        device: String, epoch: UInt64, lastSeq: UInt64?, received: UInt64, duplicates: UInt64, gaps: UInt64,
        missingRanges: [UInt8] = []
    ) {
        self.device = device
        self.epoch = epoch
        self.lastSeq = lastSeq
        self.received = received
        self.duplicates = duplicates
        self.gaps = gaps
        self.missingRanges = missingRanges
    }
}
