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
/// - format byte `1`; the number of metric names, then each name (UTF-8 length, bytes);
/// - the number of entries; per entry, in (epoch, seq) order: flags (bit 0: a device time
///   follows), epoch delta, seq delta, HLC logical delta, dot counter delta, device time delta
///   (to the previous entry that had one) when flagged, the number of metrics, and per metric
///   the index of its name and its value as 8 bytes of IEEE 754 binary64, little-endian.
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
        var names: [String] = []
        var nameIndex: [String: Int] = [:]
        for entry in entries {
            for metric in entry.reading.values where nameIndex[metric.name] == nil {
                nameIndex[metric.name] = names.count
                names.append(metric.name)
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16 + names.count * 8 + entries.count * 24)
        bytes.append(Self.formatVersion)
        Self.appendVarint(UInt64(names.count), to: &bytes)
        for var name in names {
            name.withUTF8 { utf8 in
                Self.appendVarint(UInt64(utf8.count), to: &bytes)
                bytes.append(contentsOf: utf8)
            }
        }
        Self.appendVarint(UInt64(entries.count), to: &bytes)
        var previous = (epoch: UInt64(0), seq: UInt64(0), logical: UInt64(0), dot: UInt64(0), deviceTime: UInt64(0))
        for entry in entries {
            let reading = entry.reading
            bytes.append(reading.deviceTime == nil ? 0 : 1)
            Self.appendDelta(from: &previous.epoch, to: entry.epoch, into: &bytes)
            Self.appendDelta(from: &previous.seq, to: entry.seq, into: &bytes)
            Self.appendDelta(from: &previous.logical, to: reading.stamp.logical, into: &bytes)
            Self.appendDelta(from: &previous.dot, to: reading.dotCounter, into: &bytes)
            if let deviceTime = reading.deviceTime {
                Self.appendDelta(from: &previous.deviceTime, to: UInt64(bitPattern: deviceTime), into: &bytes)
            }
            Self.appendVarint(UInt64(reading.values.count), to: &bytes)
            for metric in reading.values {
                Self.appendVarint(UInt64(nameIndex[metric.name]!), to: &bytes)
                withUnsafeBytes(of: metric.value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
            }
        }
        return bytes
    }

    /// Decodes a blob written by ``encode()`` for `writer`; `nil` if it is not one (a damaged row).
    static func decode(_ blob: UnsafeRawBufferPointer, writer: NodeID) -> RawChunk? {
        var reader = ByteReader(bytes: blob)
        guard reader.byte() == formatVersion, let nameCount = reader.varint(), nameCount <= UInt64(blob.count) else { return nil }
        var names: [String] = []
        names.reserveCapacity(Int(nameCount))
        for _ in 0..<nameCount {
            guard let length = reader.varint(), let bytes = reader.take(length),
                let name = String(validating: bytes, as: UTF8.self)
            else { return nil }
            names.append(name)
        }
        guard let count = reader.varint(), count <= UInt64(blob.count) else { return nil }
        var entries: [Entry] = []
        entries.reserveCapacity(Int(count))
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
            guard let metricCount = reader.varint(), metricCount <= UInt64(blob.count) else { return nil }
            var values: [RawTelemetry.Metric] = []
            values.reserveCapacity(Int(metricCount))
            for _ in 0..<metricCount {
                guard let index = reader.varint(), index < UInt64(names.count), let bits = reader.uint64() else { return nil }
                values.append(RawTelemetry.Metric(name: names[Int(index)], value: Double(bitPattern: bits)))
            }
            entries.append(Entry(
                epoch: previous.epoch, seq: previous.seq,
                reading: RawTelemetry.Reading(
                    values: values, deviceTime: deviceTime,
                    stamp: HLCTimestamp(logical: previous.logical, node: writer), dotCounter: previous.dot)))
        }
        guard reader.isAtEnd else { return nil }
        // Written sorted and unique; anything else was not written by encode().
        for (earlier, later) in zip(entries, entries.dropFirst()) where !(earlier.position < later.position) { return nil }
        var chunk = RawChunk(writer: writer, entries: [])
        chunk.entries = entries
        return chunk
    }

    private static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var remaining = value
        while remaining >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        bytes.append(UInt8(remaining))
    }

    /// Appends the zigzag varint of `value - previous` (wrapping) and makes `value` the previous.
    private static func appendDelta(from previous: inout UInt64, to value: UInt64, into bytes: inout [UInt8]) {
        let difference = Int64(bitPattern: value &- previous)
        appendVarint(UInt64(bitPattern: (difference << 1) ^ (difference >> 63)), to: &bytes)
        previous = value
    }

    private struct ByteReader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        var isAtEnd: Bool { offset == bytes.count }

        mutating func byte() -> UInt8? {
            guard offset < bytes.count else { return nil }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func varint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while let byte = byte() {
                guard shift < 64 else { return nil }
                value |= UInt64(byte & 0x7f) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
            return nil
        }

        /// Reads a zigzag delta and adds it (wrapping) to `value`; false when damaged.
        mutating func delta(onto value: inout UInt64) -> Bool {
            guard let zigzag = varint() else { return false }
            let difference = Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1)
            value = value &+ UInt64(bitPattern: difference)
            return true
        }

        mutating func take(_ count: UInt64) -> UnsafeRawBufferPointer? {
            guard count <= UInt64(bytes.count - offset) else { return nil }
            defer { offset += Int(count) }
            return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + Int(count)])
        }

        mutating func uint64() -> UInt64? {
            guard let raw = take(8) else { return nil }
            var bits: UInt64 = 0
            for (shift, byte) in raw.enumerated() { bits |= UInt64(byte) << (8 * UInt64(shift)) }
            return bits
        }
    }
}
