internal import FoglineCore

/// The compact blob that holds a raw reading's metric values in `raw_telemetry.metrics`: the same
/// layout as the edge's store (FoglineStore's `MetricsBlob`, internal to that module), so doubles
/// round-trip bit for bit, NaN and infinities included.
///
/// Layout: format byte `1`; the number of metrics (LEB128); then per metric the UTF-8 length of
/// its name (LEB128), the name, and the value as 8 bytes of IEEE 754 binary64, little-endian.
enum MetricsBlob {
    static let formatVersion: UInt8 = 1

    static func encode(_ metrics: [RawTelemetry.Metric]) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(2 + metrics.count * 16)
        bytes.append(formatVersion)
        appendVarint(UInt64(metrics.count), to: &bytes)
        for metric in metrics {
            let name = Array(metric.name.utf8)
            appendVarint(UInt64(name.count), to: &bytes)
            bytes += name
            let bits = metric.value.bitPattern
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
        }
        return bytes
    }

    /// Decodes a blob written by ``encode(_:)``; `nil` if it is not one (a damaged row).
    static func decode(_ bytes: [UInt8]) -> [RawTelemetry.Metric]? {
        var offset = 0
        func byte() -> UInt8? {
            guard offset < bytes.count else { return nil }
            defer { offset += 1 }
            return bytes[offset]
        }
        func varint() -> UInt64? {
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
        guard byte() == formatVersion, let count = varint(), count <= UInt64(bytes.count) else { return nil }
        var metrics = [RawTelemetry.Metric]()
        metrics.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let length = varint(), length <= UInt64(bytes.count - offset) else { return nil }
            let nameEnd = offset + Int(length)
            guard let name = String(validating: bytes[offset..<nameEnd], as: UTF8.self), nameEnd + 8 <= bytes.count else {
                return nil
            }
            var bits: UInt64 = 0
            for index in 0..<8 { bits |= UInt64(bytes[nameEnd + index]) << (8 * UInt64(index)) }
            offset = nameEnd + 8
            metrics.append(RawTelemetry.Metric(name: name, value: Double(bitPattern: bits)))
        }
        return offset == bytes.count ? metrics : nil
    }

    private static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var remaining = value
        while remaining >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        bytes.append(UInt8(remaining))
    }
}
