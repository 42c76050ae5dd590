/// The primitives of the store's compact binary records (``MetricsBlob``, `RawChunk`,
/// `JournalSegment`): LEB128 varints, zigzag deltas, little-endian 64-bit words, UTF-8 strings.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func varint(_ value: UInt64) {
        var remaining = value
        while remaining >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        bytes.append(UInt8(remaining))
    }

    /// The zigzag varint of `value - previous` (wrapping), then `value` becomes the previous:
    /// values close to their predecessor take a byte or two whatever their size.
    mutating func delta(from previous: inout UInt64, to value: UInt64) {
        let difference = Int64(bitPattern: value &- previous)
        varint(UInt64(bitPattern: (difference << 1) ^ (difference >> 63)))
        previous = value
    }

    mutating func word(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// The UTF-8 length as a varint, then the bytes.
    mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            varint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    /// The length as a varint, then the bytes.
    mutating func blob(_ value: [UInt8]) {
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }
}

/// Reads what ``ByteWriter`` wrote; every read returns `nil` (or false) instead of reading past
/// the end or accepting a malformed value, so a damaged record is refused, never misread.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

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

    /// A count of items that each take at least a byte: no larger than what is left, so a
    /// damaged count cannot make the caller reserve gigabytes.
    mutating func count() -> Int? {
        guard let value = varint(), value <= UInt64(bytes.count - offset) else { return nil }
        return Int(value)
    }

    /// Reads a zigzag delta and adds it (wrapping) to `value`; false when damaged.
    mutating func delta(onto value: inout UInt64) -> Bool {
        guard let zigzag = varint() else { return false }
        let difference = Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1)
        value = value &+ UInt64(bitPattern: difference)
        return true
    }

    mutating func word() -> UInt64? {
        guard let raw = take(8) else { return nil }
        var value: UInt64 = 0
        for (shift, byte) in raw.enumerated() { value |= UInt64(byte) << (8 * UInt64(shift)) }
        return value
    }

    mutating func string() -> String? {
        guard let length = varint(), let raw = take(length) else { return nil }
        return String(validating: raw, as: UTF8.self)
    }

    mutating func blob() -> [UInt8]? {
        guard let length = varint(), let raw = take(length) else { return nil }
        return [UInt8](raw)
    }

    mutating func take(_ count: UInt64) -> UnsafeRawBufferPointer? {
        guard count <= UInt64(bytes.count - offset) else { return nil }
        defer { offset += Int(count) }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + Int(count)])
    }
}
