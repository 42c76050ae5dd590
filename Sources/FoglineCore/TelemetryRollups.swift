/// Per-minute telemetry summaries: count, sum, min, max and last value for each
/// (device, metric, window, writer). Only the writer updates its own cell, and its dot counter
/// orders those updates, so the join keeps the cell with the higher dot. Readers combine the
/// writers' cells of a window (after a failover two nodes may have summarised the same minute).
public struct TelemetryRollups: EntryDotStore {
    public struct Key: Hashable, Sendable, Comparable {
        public let device: String
        public let metric: String
        /// Start of the window, milliseconds since the Unix epoch.
        public let windowStart: UInt64
        public let writer: NodeID
        /// The fields' hash, computed once: ingest hashes a cell's key about ten times per
        /// reading (the deferral check, the cell tables), and rehashing its two strings each
        /// time made hashing the top of the edge's CPU profile.
        private let fieldsHash: Int

        public init(device: String, metric: String, windowStart: UInt64, writer: NodeID) {
            self.device = device
            self.metric = metric
            self.windowStart = windowStart
            self.writer = writer
            var hasher = Hasher()
            hasher.combine(device)
            hasher.combine(metric)
            hasher.combine(windowStart)
            hasher.combine(writer)
            fieldsHash = hasher.finalize()
        }

        public static func == (lhs: Key, rhs: Key) -> Bool {
            lhs.fieldsHash == rhs.fieldsHash && lhs.windowStart == rhs.windowStart && lhs.writer == rhs.writer
                && lhs.device == rhs.device && lhs.metric == rhs.metric
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(fieldsHash)
        }

        public static func < (lhs: Key, rhs: Key) -> Bool {
            (lhs.device, lhs.metric, lhs.windowStart, lhs.writer) < (rhs.device, rhs.metric, rhs.windowStart, rhs.writer)
        }
    }

    public struct Summary: Hashable, Sendable {
        public var count: UInt64
        public var sum: Double
        public var min: Double
        public var max: Double
        public var last: Double
        /// HLC (logical part) of the sample `last` came from.
        public var lastLogical: UInt64
        public var dotCounter: UInt64

        public init(count: UInt64, sum: Double, min: Double, max: Double, last: Double, lastLogical: UInt64, dotCounter: UInt64) {
            self.count = count
            self.sum = sum
            self.min = min
            self.max = max
            self.last = last
            self.lastLogical = lastLogical
            self.dotCounter = dotCounter
        }

        public var mean: Double { count == 0 ? 0 : sum / Double(count) }

        /// Combines the summaries two writers made of the same window.
        public func combined(with other: Summary) -> Summary {
            let newer = other.lastLogical > lastLogical
            return Summary(
                count: count + other.count, sum: sum + other.sum, min: Swift.min(min, other.min),
                max: Swift.max(max, other.max), last: newer ? other.last : last,
                lastLogical: Swift.max(lastLogical, other.lastLogical), dotCounter: 0)
        }
    }

    /// Window length: one minute.
    public static let windowMilliseconds: UInt64 = 60_000

    public private(set) var cells: [Key: Summary] = [:]

    public init() {}

    public var isEmpty: Bool { cells.isEmpty }

    /// The window a sample stamped `stamp` falls in.
    public static func windowStart(of stamp: HLCTimestamp) -> UInt64 {
        stamp.milliseconds - stamp.milliseconds % windowMilliseconds
    }

    /// Adds one sample to the writer's cell and returns the updated cell as a delta.
    public mutating func record(
        device: String, metric: String, value: Double, stamp: HLCTimestamp, dot: Dot
    ) -> TelemetryRollups {
        let key = Key(device: device, metric: metric, windowStart: Self.windowStart(of: stamp), writer: dot.node)
        var summary: Summary
        if var existing = cells[key] {
            existing.count += 1
            existing.sum += value
            existing.min = Swift.min(existing.min, value)
            existing.max = Swift.max(existing.max, value)
            if stamp.logical >= existing.lastLogical {
                existing.last = value
                existing.lastLogical = stamp.logical
            }
            summary = existing
        } else {
            summary = Summary(count: 1, sum: value, min: value, max: value, last: value, lastLogical: stamp.logical, dotCounter: 0)
        }
        summary.dotCounter = dot.counter
        cells[key] = summary
        var delta = TelemetryRollups()
        delta.cells[key] = summary
        return delta
    }

    /// The combined summary of `metric` of `device` per window (all writers), oldest first.
    public func windows(device: String, metric: String) -> [(windowStart: UInt64, summary: Summary)] {
        var byWindow: [UInt64: Summary] = [:]
        for (key, summary) in cells where key.device == device && key.metric == metric {
            byWindow[key.windowStart] = byWindow[key.windowStart].map { $0.combined(with: summary) } ?? summary
        }
        return byWindow.sorted { $0.key < $1.key }.map { (windowStart: $0.key, summary: $0.value) }
    }

    /// Drops the cells of windows that start before `windowStart` from this replica; returns how
    /// many were dropped. Local only, like raw retention: the cells' dots stay in the causal
    /// context, so no peer sends them back, and an owner that keeps them durably elsewhere (the
    /// edge's SQLite store) still has them.
    ///
    /// Only the writer itself updates its cells, and it records into the window of its own HLC,
    /// which never goes backwards: a window older than the writer's current one is never updated
    /// again, so dropping it cannot make a later `record` restart a cell from zero. Callers keep
    /// at least the writer's current window.
    @discardableResult
    public mutating func prune(windowsBefore windowStart: UInt64) -> Int {
        let before = cells.count
        cells = cells.filter { $0.key.windowStart >= windowStart }
        return before - cells.count
    }

    /// Joins one cell.
    public mutating func insert(_ summary: Summary, for key: Key) {
        if let current = cells[key], current.dotCounter >= summary.dotCounter { return }
        cells[key] = summary
    }

    public func forEachDot(_ body: (Dot) -> Void) {
        for (key, summary) in cells { body(Dot(node: key.writer, counter: summary.dotCounter)) }
    }

    public func entries(where isIncluded: (Dot) -> Bool) -> TelemetryRollups? {
        var result = TelemetryRollups()
        for (key, summary) in cells where isIncluded(Dot(node: key.writer, counter: summary.dotCounter)) {
            result.cells[key] = summary
        }
        return result.isEmpty ? nil : result
    }

    public mutating func merge(_ other: TelemetryRollups, otherContext: CausalContext, ownContext: CausalContext) {
        for (key, summary) in other.cells { insert(summary, for: key) }
    }
}
