/// Deterministic JSON serialization.
///
/// The same value always produces the same bytes: object members in the order they are
/// held, no insignificant whitespace, strings escaped per RFC 8259 (`"` `\` and control
/// characters only; everything else, including non-ASCII text, is written as UTF-8),
/// integral numbers with magnitude below 2^53 without a fraction (`42`, `-0`), and other
/// numbers in Swift's shortest round-trip form (`21.5`, `1e+20`), which every JSON parser
/// reads back to the same double.
extension JSONValue {
    /// The value as compact JSON bytes (UTF-8).
    ///
    /// Non-finite numbers have no JSON spelling; a hand-built `.number(.nan)` or
    /// `.number(.infinity)` is written as `null` (as JavaScript's `JSON.stringify` does).
    /// Values from the parser and from the payload types never hold one.
    public func serialized() -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(64)
        serialize(into: &output)
        return output
    }

    /// The value as compact JSON text; the same bytes as ``serialized()``.
    public func serializedString() -> String {
        String(decoding: serialized(), as: UTF8.self)
    }

    /// Appends the value's JSON bytes to `output`.
    public func serialize(into output: inout [UInt8]) {
        switch self {
        case .null:
            output.append(contentsOf: JSONSerialization.nullBytes)
        case .bool(let value):
            output.append(contentsOf: value ? JSONSerialization.trueBytes : JSONSerialization.falseBytes)
        case .number(let value):
            JSONSerialization.appendNumber(value, to: &output)
        case .string(let value):
            JSONSerialization.appendString(value, to: &output)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                element.serialize(into: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                JSONSerialization.appendString(member.key, to: &output)
                output.append(UInt8(ascii: ":"))
                member.value.serialize(into: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }
}

/// The byte-level pieces of the serializer.
enum JSONSerialization {
    static let nullBytes: [UInt8] = Array("null".utf8)
    static let trueBytes: [UInt8] = Array("true".utf8)
    static let falseBytes: [UInt8] = Array("false".utf8)
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `value` as a JSON number (or `null` if it is not finite).
    static func appendNumber(_ value: Double, to output: inout [UInt8]) {
        guard value.isFinite else {
            output.append(contentsOf: nullBytes)
            return
        }
        if JSONValue.isIntegral(value), value.magnitude < JSONValue.maxExactInteger {
            if value.sign == .minus { output.append(UInt8(ascii: "-")) }
            appendDecimal(UInt64(value.magnitude), to: &output)
        } else {
            // Swift's description is the shortest text that reads back as the same double,
            // and for finite values it is always valid JSON ("21.5", "1e-07", "1.5e+300",
            // "9007199254740992.0").
            output.append(contentsOf: value.description.utf8)
        }
    }

    /// Appends the decimal digits of `value`.
    static func appendDecimal(_ value: UInt64, to output: inout [UInt8]) {
        if value == 0 {
            output.append(UInt8(ascii: "0"))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch, no allocation
        var count = 0
        var remaining = value
        withUnsafeMutableBytes(of: &digits) { scratch in
            while remaining > 0 {
                scratch[count] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
                count += 1
            }
            for index in stride(from: count - 1, through: 0, by: -1) {
                output.append(scratch[index])
            }
        }
    }

    /// Appends `string` as a quoted JSON string.
    static func appendString(_ string: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { bytes in
            var runStart = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if runStart < index {
                    output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                }
                runStart = index + 1
                output.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""): output.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): output.append(UInt8(ascii: "\\"))
                case 0x08: output.append(UInt8(ascii: "b"))
                case 0x0C: output.append(UInt8(ascii: "f"))
                case 0x0A: output.append(UInt8(ascii: "n"))
                case 0x0D: output.append(UInt8(ascii: "r"))
                case 0x09: output.append(UInt8(ascii: "t"))
                default:
                    output.append(UInt8(ascii: "u"))
                    output.append(UInt8(ascii: "0"))
                    output.append(UInt8(ascii: "0"))
                    output.append(hexDigits[Int(byte >> 4)])
                    output.append(hexDigits[Int(byte & 0x0F)])
                }
            }
            if runStart < bytes.count {
                output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}
