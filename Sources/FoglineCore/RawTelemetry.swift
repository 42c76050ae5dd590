/// Raw telemetry readings: a grow-only set keyed by (device, birth epoch, seq), so a reading
/// delivered twice, or by two nodes after a failover, is stored once, while a device that
/// restarts its seq numbering with a new birth does not collide with its earlier readings. Retention is local: ``prune(keepingPerDevice:)``
/// drops the oldest readings, whose dots stay in the causal context so no peer sends them back.
public struct RawTelemetry: EntryDotStore {
    public struct Key: Hashable, Sendable, Comparable {
        public var device: String
        /// The birth that started this seq numbering (its HLC logical; 0 when unknown).
        public var epoch: UInt64
        public var seq: UInt64

        public init(device: String, epoch: UInt64, seq: UInt64) {
            self.device = device
            self.epoch = epoch
            self.seq = seq
        }

        public static func < (lhs: Key, rhs: Key) -> Bool {
            (lhs.device, lhs.epoch, lhs.seq) < (rhs.device, rhs.epoch, rhs.seq)
        }
    }

    public struct Metric: Hashable, Sendable {
        public var name: String
        public var value: Double

        public init(name: String, value: Double) {
            self.name = name
            self.value = value
        }
    }

    public struct Reading: Hashable, Sendable {
        public var values: [Metric]
        /// The device's own timestamp (ms): data, not clock input.
        public var deviceTime: Int64?
        /// When the writer ingested it; its node wrote the dot.
        public var stamp: HLCTimestamp
        public var dotCounter: UInt64

        public init(values: [Metric], deviceTime: Int64?, stamp: HLCTimestamp, dotCounter: UInt64) {
            self.values = values
            self.deviceTime = deviceTime
            self.stamp = stamp
            self.dotCounter = dotCounter
        }

        public var dot: Dot { Dot(node: stamp.node, counter: dotCounter) }
    }

    public private(set) var readings: [Key: Reading] = [:]

    public init() {}

    public var isEmpty: Bool { readings.isEmpty }

    /// Joins one reading. Two ingestions of the same (device, seq) resolve to the earlier stamp.
    public mutating func insert(_ reading: Reading, for key: Key) {
        if let current = readings[key], current.stamp <= reading.stamp { return }
        readings[key] = reading
    }

    /// Keeps the newest `limit` readings (by epoch, then seq) of each device; returns how many
    /// were dropped.
    public mutating func prune(keepingPerDevice limit: Int) -> Int {
        if limit <= 0 {
            // Everything goes: the edge drops each reading once it is handed to its store, so this
            // runs per reading and must not group by device.
            let dropped = readings.count
            // Keep a small table's storage for the next reading; give a restored state's back.
            if dropped > 0 { readings.removeAll(keepingCapacity: dropped <= 64) }
            return dropped
        }
        var keysByDevice: [String: [Key]] = [:]
        for key in readings.keys { keysByDevice[key.device, default: []].append(key) }
        var dropped = 0
        for keys in keysByDevice.values where keys.count > limit {
            for key in keys.sorted().dropLast(limit) {
                readings[key] = nil
                dropped += 1
            }
        }
        return dropped
    }

    public func forEachDot(_ body: (Dot) -> Void) {
        for reading in readings.values { body(reading.dot) }
    }

    public func entries(where isIncluded: (Dot) -> Bool) -> RawTelemetry? {
        var result = RawTelemetry()
        for (key, reading) in readings where isIncluded(reading.dot) {
            result.readings[key] = reading
        }
        return result.isEmpty ? nil : result
    }

    public mutating func merge(_ other: RawTelemetry, otherContext: CausalContext, ownContext: CausalContext) {
        for (key, reading) in other.readings { insert(reading, for: key) }
    }
}
