public import Foundation
public import FoglineCore

/// The compact blob that held a raw reading's metric values in `raw_telemetry.metrics` and
/// `raw_log.metrics` (schema v1–v6; read when migrating), and that the aggregator's stores use.
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
        var writer = ByteWriter(capacity: 2 + metrics.count * 16)
        writer.byte(formatVersion)
        writer.varint(UInt64(metrics.count))
        for metric in metrics {
            writer.string(metric.name)
            writer.word(metric.value.bitPattern)
        }
        return Data(writer.bytes)
    }

    /// Decodes a blob written by ``encode(_:)``; `nil` if it is not one (a damaged row).
    public static func decode(_ data: Data) -> [RawTelemetry.Metric]? {
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [RawTelemetry.Metric]? in
            var reader = ByteReader(raw)
            guard reader.byte() == formatVersion, let count = reader.count() else { return nil }
            var metrics = [RawTelemetry.Metric]()
            metrics.reserveCapacity(count)
            for _ in 0..<count {
                guard let name = reader.string(), let bits = reader.word() else { return nil }
                metrics.append(RawTelemetry.Metric(name: name, value: Double(bitPattern: bits)))
            }
            return reader.isAtEnd ? metrics : nil
        }
    }
}
