/// What a site's raw readings of one device say: the telemetry stats the edge and the
/// aggregator both serve, computed the same way from the same replicated rows.
public struct RawTelemetrySummary: Sendable, Equatable {
    /// Distinct readings stored, over every birth epoch.
    public var received: UInt64
    /// Seqs missing below the highest seq of each epoch (`highest + 1 - readings`, summed).
    public var gaps: UInt64
    /// The highest seq of the newest epoch.
    public var lastSeq: UInt64?

    public init(received: UInt64, gaps: UInt64, lastSeq: UInt64?) {
        self.received = received
        self.gaps = gaps
        self.lastSeq = lastSeq
    }

    /// One epoch of one device: how many distinct seqs are stored and the highest of them.
    public struct EpochCount: Sendable, Equatable {
        public var device: String
        public var epoch: UInt64
        public var readings: UInt64
        public var highestSeq: UInt64

        public init(device: String, epoch: UInt64, readings: UInt64, highestSeq: UInt64) {
            self.device = device
            self.epoch = epoch
            self.readings = readings
            self.highestSeq = highestSeq
        }
    }

    /// Per device, the summary of its epochs (in any order): a stream starts at seq 0 after each
    /// birth, so every seq below an epoch's highest that is not stored is a gap.
    public static func summarize(_ epochs: some Sequence<EpochCount>) -> [String: RawTelemetrySummary] {
        var summaries: [String: (summary: RawTelemetrySummary, newestEpoch: UInt64)] = [:]
        for epoch in epochs {
            var entry = summaries[epoch.device] ?? (RawTelemetrySummary(received: 0, gaps: 0, lastSeq: nil), epoch.epoch)
            entry.summary.received += epoch.readings
            entry.summary.gaps += epoch.highestSeq + 1 - min(epoch.readings, epoch.highestSeq + 1)
            if entry.summary.lastSeq == nil || epoch.epoch >= entry.newestEpoch {
                entry.newestEpoch = epoch.epoch
                entry.summary.lastSeq = epoch.highestSeq
            }
            summaries[epoch.device] = entry
        }
        return summaries.mapValues(\.summary)
    }
}
