public import Foundation
public import FoglineCore

/// The compact blob that holds a raw reading's metric values in `raw_telemetry.metrics`.
///
/// A raw row is written for every telemetry reading (the hot path), so the values are a small
/// binary record rather than JSON: no number formatting or parsing, and doubles round-trip bit for
/// bit (JSON cannot carry NaN or infinities, and SQLite turns a NaN `REAL` into `NULL`).
///
/// Layout: format byte `1`; the number of metrics (LEB128); then per metric the UTF-8 length of
/// its name (LEB128), the name, and the value as 8 bytes of IEEE 754 binary64, little-endian.
public enum MetricsBlob {
    static let formatVersion: UInt8 = 1

    public static func encode(_ metrics: [RawTelemetry.Metric]) -> Data {
        var bytes = [UInt8]()
        bytes.reserveCapacity(2 + metrics.count * 16)
        bytes.append(formatVersion)
        appendVarint(UInt64(metrics.count), to: &bytes)
        for metric in metrics {
            var name = metric.name
            name.withUTF8 { utf8 in
                appendVarint(UInt64(utf8.count), to: &bytes)
                bytes.append(contentsOf: utf8)
            }
            var bits = metric.value.bitPattern.littleEndian
            withUnsafeBytes(of: &bits) { bytes.append(contentsOf: $0) }
        }
        return Data(bytes)
    }

    /// Decodes a blob written by ``encode(_:)``; `nil` if it is not one (a damaged row).
    public static func decode(_ data: Data) -> [RawTelemetry.Metric]? {
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [RawTelemetry.Metric]? in
            var reader = ByteReader(bytes: raw)
            guard reader.byte() == formatVersion, let count = reader.varint(), count <= UInt64(raw.count) else {
                return nil
            }
            var metrics = [RawTelemetry.Metric]()
            metrics.reserveCapacity(Int(count))
            for _ in 0..<count {
                guard let length = reader.varint(), let nameBytes = reader.take(length),
                    let name = String(validating: nameBytes, as: UTF8.self),
                    let valueBytes = reader.take(8)
                else { return nil }
                var bits: UInt64 = 0
                for (shift, byte) in valueBytes.enumerated() { bits |= UInt64(byte) << (8 * UInt64(shift)) }
                metrics.append(RawTelemetry.Metric(name: name, value: Double(bitPattern: bits)))
            }
            return reader.isAtEnd ? metrics : nil
        }
    }

    private static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var remaining = value
        while remaining >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        bytes.append(UInt8(remaining))
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
            while shift < 64 {
                guard let next = byte() else { return nil }
                value |= UInt64(next & 0x7F) << shift
                if next & 0x80 == 0 { return value }
                shift += 7
            }
            return nil
        }

        mutating func take(_ count: UInt64) -> UnsafeRawBufferPointer.SubSequence? {
            guard count <= UInt64(bytes.count - offset) else { return nil }
            defer { offset += Int(count) }
            return bytes[offset..<(offset + Int(count))]
        }
    }
}
