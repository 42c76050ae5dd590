/// Strict UTF-8 validation (Unicode 15, table 3-7): no overlong forms, no encoded
/// surrogates (U+D800–U+DFFF), nothing above U+10FFFF, no stray or truncated sequences.
enum UTF8Validation {
    /// The offset of the first byte that starts an invalid sequence, or `nil` if all of
    /// `bytes` is valid UTF-8.
    static func firstInvalidOffset(in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let base = bytes.baseAddress else { return nil }
        let count = bytes.count
        var index = 0
        while index < count {
            // ASCII fast path: eight bytes at a time while none has its high bit set.
            while index + 8 <= count {
                let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
                if word & 0x8080_8080_8080_8080 != 0 { break }
                index += 8
            }
            guard index < count else { break }
            let lead = base[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            let length: Int
            var secondLow: UInt8 = 0x80
            var secondHigh: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF:
                length = 2
            case 0xE0:
                length = 3
                secondLow = 0xA0  // below is overlong
            case 0xE1...0xEC, 0xEE...0xEF:
                length = 3
            case 0xED:
                length = 3
                secondHigh = 0x9F  // above encodes a surrogate
            case 0xF0:
                length = 4
                secondLow = 0x90  // below is overlong
            case 0xF1...0xF3:
                length = 4
            case 0xF4:
                length = 4
                secondHigh = 0x8F  // above is beyond U+10FFFF
            default:
                return index  // continuation byte, C0/C1 (overlong), or F5–FF
            }
            guard index + length <= count else { return index }
            let second = base[index + 1]
            guard second >= secondLow, second <= secondHigh else { return index }
            for offset in 2..<length where base[index + offset] & 0xC0 != 0x80 {
                return index
            }
            index += length
        }
        return nil
    }
}
