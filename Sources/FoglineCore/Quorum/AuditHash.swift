/// A SHA-256 digest in the audit chain: the hash of an entry, or the link to the one before.
public struct AuditHash: Hashable, Sendable {
    /// Exactly 32 bytes.
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    /// The link of the first entry: nothing came before.
    public static let zero = AuditHash(unchecked: Array(repeating: 0, count: 32))

    init(unchecked bytes: [UInt8]) {
        self.bytes = bytes
    }
}

extension AuditHash: CustomStringConvertible, LosslessStringConvertible {
    /// 64 lowercase hex digits.
    public var description: String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(64)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Parses 64 hex digits (either case).
    public init?(_ text: String) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 64 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for i in stride(from: 0, to: 64, by: 2) {
            guard let high = nibble(utf8[i]), let low = nibble(utf8[i + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        self.bytes = bytes
    }
}
