import Foundation
import FoglineCore

/// A run of one device's raw readings ingested by one writer, as one `raw_chunk` row holds it.
///
/// Why chunks: a table with a row per reading, clustered by device, rewrites a few pages of
/// every device at each journal fold (its newest rows, a page split, the dot index), about 700
/// bytes written per reading. A fold instead writes one chunk per device — a row of ~20 bytes per
/// reading that fills about one page — and nothing else of the raw data.
///
/// Layout of ``encode()`` (format 1), integers as LEB128 varints, "delta" meaning the zigzag
/// varint of the wrapping difference to the previous entry's value (the first from 0):
///
/// - format byte `1`; the metric names (``MetricNames``);
/// - the number of entries; per entry, in (epoch, seq) order: flags (bit 0: a device time
///   follows), epoch delta, seq delta, HLC logical delta, dot counter delta, device time delta
///   (to the previous entry that had one) when flagged, and the metrics (``MetricNames``).
///
/// The writer (every stamp's node) is the row's `writer` column, not repeated per entry.
struct RawChunk: Equatable {
    struct Entry: Equatable {
        var epoch: UInt64
        var seq: UInt64
        var reading: RawTelemetry.Reading

        /// The (epoch, seq) position of the reading in its device's streams.
        var position: Position { Position(epoch: epoch, seq: seq) }
    }

    /// A reading's place in its device's streams; ordered like `RawTelemetry.Key` within a device.
    struct Position: Comparable, Hashable {
        var epoch: UInt64
        var seq: UInt64

        static func < (lhs: Position, rhs: Position) -> Bool { (lhs.epoch, lhs.seq) < (rhs.epoch, rhs.seq) }
    }

    static let formatVersion: UInt8 = 1
    /// The most entries a fold puts in one chunk: bounds what one row costs to decode (a device
    /// that sent a burst gets several chunks).
    static let maxEntries = 256

    let writer: NodeID
    /// In (epoch, seq) order, each position once.
    private(set) var entries: [Entry]

    /// A chunk of `entries`, all stamped by `writer`; sorts them and keeps, of two entries at one
    /// position, the one with the earlier stamp (as `RawTelemetry.insert` does).
    init(writer: NodeID, entries: [Entry]) {
        precondition(entries.allSatisfy { $0.reading.stamp.node == writer }, "a chunk holds one writer's readings")
        self.writer = writer
        self.entries = Self.resolved(entries)
    }

    /// Sorted by position, each position once (the earlier stamp wins).
    static func resolved(_ entries: [Entry]) -> [Entry] {
        let sorted = entries.sorted { ($0.position, $0.reading.stamp) < ($1.position, $1.reading.stamp) }
        var result: [Entry] = []
        result.reserveCapacity(sorted.count)
        for entry in sorted where result.last?.position != entry.position { result.append(entry) }
        return result
    }

    var minDot: UInt64 { entries.lazy.map(\.reading.dotCounter).min() ?? 0 }
    var maxDot: UInt64 { entries.lazy.map(\.reading.dotCounter).max() ?? 0 }

    // MARK: Encoding

    func encode() -> [UInt8] {
        var names = MetricNames()
        for entry in entries { names.add(entry.reading.values) }
        var writer = ByteWriter(capacity: 16 + names.list.count * 8 + entries.count * 24)
        writer.byte(Self.formatVersion)
        names.encode(into: &writer)
        writer.varint(UInt64(entries.count))
        var previous = (epoch: UInt64(0), seq: UInt64(0), logical: UInt64(0), dot: UInt64(0), deviceTime: UInt64(0))
        for entry in entries {
            let reading = entry.reading
            writer.byte(reading.deviceTime == nil ? 0 : 1)
            writer.delta(from: &previous.epoch, to: entry.epoch)
            writer.delta(from: &previous.seq, to: entry.seq)
            writer.delta(from: &previous.logical, to: reading.stamp.logical)
            writer.delta(from: &previous.dot, to: reading.dotCounter)
            if let deviceTime = reading.deviceTime { writer.delta(from: &previous.deviceTime, to: UInt64(bitPattern: deviceTime)) }
            names.encode(reading.values, into: &writer)
        }
        return writer.bytes
    }

    /// Decodes a blob written by ``encode()`` for `writer`; `nil` if it is not one (a damaged row).
    static func decode(_ blob: UnsafeRawBufferPointer, writer: NodeID) -> RawChunk? {
        var reader = ByteReader(blob)
        guard reader.byte() == formatVersion, let names = MetricNames.decode(from: &reader), let count = reader.count() else {
            return nil
        }
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        var previous = (epoch: UInt64(0), seq: UInt64(0), logical: UInt64(0), dot: UInt64(0), deviceTime: UInt64(0))
        for _ in 0..<count {
            guard let flags = reader.byte(), flags <= 1,
                reader.delta(onto: &previous.epoch), reader.delta(onto: &previous.seq),
                reader.delta(onto: &previous.logical), reader.delta(onto: &previous.dot)
            else { return nil }
            var deviceTime: Int64?
            if flags == 1 {
                guard reader.delta(onto: &previous.deviceTime) else { return nil }
                deviceTime = Int64(bitPattern: previous.deviceTime)
            }
            guard let values = names.decodeValues(from: &reader) else { return nil }
            let position = Position(epoch: previous.epoch, seq: previous.seq)
            // Written sorted and unique; anything else was not written by encode().
            if let last = entries.last, !(last.position < position) { return nil }
            entries.append(Entry(
                epoch: position.epoch, seq: position.seq,
                reading: RawTelemetry.Reading(
                    values: values, deviceTime: deviceTime,
                    stamp: HLCTimestamp(logical: previous.logical, node: writer), dotCounter: previous.dot)))
        }
        guard reader.isAtEnd else { return nil }
        var chunk = RawChunk(writer: writer, entries: [])
        chunk.entries = entries
        return chunk
    }
}

/// The metric names of a record, written once each at its start; each reading's metrics then
/// refer to them by index (a thermostat's reading is one index and 8 bytes).
struct MetricNames {
    private(set) var list: [String] = []
    private var index: [String: Int] = [:]

    mutating func add(_ metrics: [RawTelemetry.Metric]) {
        for metric in metrics where index[metric.name] == nil {
            index[metric.name] = list.count
            list.append(metric.name)
        }
    }

    func encode(into writer: inout ByteWriter) {
        writer.varint(UInt64(list.count))
        for name in list { writer.string(name) }
    }

    static func decode(from reader: inout ByteReader) -> MetricNames? {
        guard let count = reader.count() else { return nil }
        var names = MetricNames()
        for _ in 0..<count {
            guard let name = reader.string() else { return nil }
            names.list.append(name)
        }
        return names
    }

    /// A reading's metrics: their count, then per metric its name's index and its value as 8
    /// bytes of IEEE 754 binary64, little-endian (bit for bit, NaN included).
    func encode(_ metrics: [RawTelemetry.Metric], into writer: inout ByteWriter) {
        writer.varint(UInt64(metrics.count))
        for metric in metrics {
            writer.varint(UInt64(index[metric.name]!))
            writer.word(metric.value.bitPattern)
        }
    }

    func decodeValues(from reader: inout ByteReader) -> [RawTelemetry.Metric]? {
        guard let count = reader.count() else { return nil }
        var values: [RawTelemetry.Metric] = []
        values.reserveCapacity(count)
        for _ in 0..<count {
            guard let position = reader.varint(), position < UInt64(list.count), let bits = reader.word() else { return nil }
            values.append(RawTelemetry.Metric(name: list[Int(position)], value: Double(bitPattern: bits)))
        }
        return values
    }

    /// Reads past what ``decodeValues(from:)`` reads, building nothing; false if it is damaged.
    func skipValues(from reader: inout ByteReader) -> Bool {
        guard let count = reader.count() else { return false }
        for _ in 0..<count {
            guard let position = reader.varint(), position < UInt64(list.count), reader.word() != nil else { return false }
        }
        return true
    }
}
