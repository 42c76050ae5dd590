/// The byte-level RFC 8259 parser behind ``StrictJSON``.
///
/// It works on bytes already validated as UTF-8, so any byte at or above 0x80 is part of
/// a well-formed character: inside a string it is copied as is, outside one it is a
/// grammar error. Open arrays and objects live on an explicit stack (bounded by the depth
/// limit), so no input can exhaust the thread's stack.
struct StrictJSONParser {
    /// An array or object that has been opened and not yet closed.
    private struct OpenContainer {
        /// `true` for an object, `false` for an array.
        let isObject: Bool
        /// The elements so far, for an array.
        var elements: [JSONValue] = []
        /// The members so far, for an object.
        var members: [(key: String, value: JSONValue)] = []
        /// The key whose value is being parsed, for an object.
        var pendingKey = ""
        /// The keys so far, once the object has too many members for a linear scan.
        var keyIndex: Set<String>? = nil
    }

    /// Objects with at most this many members find duplicate keys by a linear scan;
    /// larger ones build a hash set once.
    private static let linearKeyScanLimit = 16

    private let bytes: UnsafeBufferPointer<UInt8>
    private let maxDepth: Int
    private var position = 0
    /// Reused buffer for strings that contain escapes.
    private var scratch: [UInt8] = []

    init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    // MARK: - Document

    /// Parses the whole buffer as exactly one JSON value surrounded by optional whitespace.
    mutating func parseDocument() throws(PayloadRejection) -> JSONValue {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            throw .invalidJSON(offset: 0, problem: "the payload starts with a byte order mark, which JSON does not allow")
        }
        skipWhitespace()
        if position == bytes.count {
            throw .invalidJSON(offset: position, problem: "the payload holds no JSON value")
        }
        var stack: [OpenContainer] = []
        stack.reserveCapacity(min(maxDepth, 8))
        nextValue: while true {
            var value: JSONValue
            // Read one value, or open a container and go read its first element.
            skipWhitespace()
            guard position < bytes.count else { throw endOfPayload(expecting: "a value") }
            switch bytes[position] {
            case UInt8(ascii: "{"):
                guard stack.count < maxDepth else { throw .tooDeep(limit: maxDepth, offset: position) }
                position += 1
                skipWhitespace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
                    position += 1
                    value = .object([])
                } else {
                    var container = OpenContainer(isObject: true)
                    container.members.reserveCapacity(4)
                    container.pendingKey = try parseKeyAndColon()
                    stack.append(container)
                    continue nextValue
                }
            case UInt8(ascii: "["):
                guard stack.count < maxDepth else { throw .tooDeep(limit: maxDepth, offset: position) }
                position += 1
                skipWhitespace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
                    position += 1
                    value = .array([])
                } else {
                    var container = OpenContainer(isObject: false)
                    container.elements.reserveCapacity(4)
                    stack.append(container)
                    continue nextValue
                }
            case UInt8(ascii: "\""):
                value = .string(try parseString())
            case UInt8(ascii: "t"):
                try expectLiteral("true")
                value = .bool(true)
            case UInt8(ascii: "f"):
                try expectLiteral("false")
                value = .bool(false)
            case UInt8(ascii: "n"):
                try expectLiteral("null")
                value = .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                let start = position
                let number = try parseNumber()
                guard number.isFinite else {
                    throw .outOfRange(
                        payload: "JSON",
                        field: Self.path(of: stack),
                        requirement: "a number within the range of a 64-bit double (magnitude at most 1.7976931348623157e308)",
                        found: PayloadRejection.truncated(
                            String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                        )
                    )
                }
                value = .number(number)
            case UInt8(ascii: "N"), UInt8(ascii: "I"):
                throw .invalidJSON(offset: position, problem: "NaN and Infinity are not JSON numbers")
            default:
                throw unexpectedByte(expecting: "a value")
            }

            // A value is complete: add it to the innermost open container, closing
            // containers for as long as the value completes them.
            while !stack.isEmpty {
                let top = stack.count - 1
                if stack[top].isObject {
                    stack[top].members.append((key: stack[top].pendingKey, value: value))
                    skipWhitespace()
                    guard position < bytes.count else { throw endOfPayload(expecting: "`,` or `}`") }
                    switch bytes[position] {
                    case UInt8(ascii: ","):
                        position += 1
                        skipWhitespace()
                        let keyOffset = position
                        let key = try parseKeyAndColon()
                        try Self.addKey(key, at: keyOffset, to: &stack[top])
                        continue nextValue
                    case UInt8(ascii: "}"):
                        position += 1
                        value = .object(stack.removeLast().members)
                    default:
                        throw unexpectedByte(expecting: "`,` or `}` after an object member")
                    }
                } else {
                    stack[top].elements.append(value)
                    skipWhitespace()
                    guard position < bytes.count else { throw endOfPayload(expecting: "`,` or `]`") }
                    switch bytes[position] {
                    case UInt8(ascii: ","):
                        position += 1
                        continue nextValue
                    case UInt8(ascii: "]"):
                        position += 1
                        value = .array(stack.removeLast().elements)
                    default:
                        throw unexpectedByte(expecting: "`,` or `]` after an array element")
                    }
                }
            }

            skipWhitespace()
            guard position == bytes.count else {
                throw unexpectedByte(expecting: "nothing after the JSON value")
            }
            return value
        }
    }

    /// Reads an object key and the `:` after it. Leaves the position at the start of the
    /// member's value.
    private mutating func parseKeyAndColon() throws(PayloadRejection) -> String {
        guard position < bytes.count else { throw endOfPayload(expecting: "an object key") }
        guard bytes[position] == UInt8(ascii: "\"") else {
            throw unexpectedByte(expecting: "an object key in double quotes")
        }
        let key = try parseString()
        skipWhitespace()
        guard position < bytes.count else { throw endOfPayload(expecting: "`:` after the object key") }
        guard bytes[position] == UInt8(ascii: ":") else { throw unexpectedByte(expecting: "`:` after the object key") }
        position += 1
        return key
    }

    /// Makes `key` the pending key of `object`, unless the object already has it.
    private static func addKey(_ key: String, at offset: Int, to object: inout OpenContainer) throws(PayloadRejection) {
        if object.keyIndex == nil, object.members.count >= linearKeyScanLimit {
            object.keyIndex = Set(object.members.lazy.map(\.key))
        }
        let isDuplicate: Bool
        if object.keyIndex != nil {
            isDuplicate = !object.keyIndex!.insert(key).inserted
        } else {
            isDuplicate = object.members.contains { $0.key == key }
        }
        if isDuplicate { throw .duplicateKey(key: key, offset: offset) }
        object.pendingKey = key
    }

    // MARK: - Scalars

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(PayloadRejection) {
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        for (index, byte) in expected.enumerated() {
            guard position + index < bytes.count, bytes[position + index] == byte else {
                throw .invalidJSON(offset: position, problem: "expected `\(literal)`")
            }
        }
        position += expected.count
    }

    /// Reads a number per the RFC 8259 grammar. Returns infinity for numbers beyond the
    /// range of a double; the caller rejects those.
    private mutating func parseNumber() throws(PayloadRejection) -> Double {
        let start = position
        var index = position
        let isNegative = bytes[index] == UInt8(ascii: "-")
        if isNegative { index += 1 }
        guard index < bytes.count else {
            throw .invalidJSON(offset: index, problem: "the payload ends after a minus sign")
        }
        // While scanning, collect the decimal digits into `mantissa` for as long as it stays
        // below 10^15 (so it is exact as a double); `isExact` turns false once one is lost.
        var mantissa: UInt64 = 0
        var isExact = true
        var fractionDigits = 0
        switch bytes[index] {
        case UInt8(ascii: "0"):
            index += 1
            if index < bytes.count, Self.isDigit(bytes[index]) {
                throw .invalidJSON(offset: start, problem: "numbers must not have leading zeros")
            }
        case UInt8(ascii: "1")...UInt8(ascii: "9"):
            while index < bytes.count, Self.isDigit(bytes[index]) {
                Self.accumulate(bytes[index], into: &mantissa, isExact: &isExact)
                index += 1
            }
        case UInt8(ascii: "I"):
            throw .invalidJSON(offset: start, problem: "NaN and Infinity are not JSON numbers")
        default:
            throw .invalidJSON(offset: index, problem: "expected a digit after the minus sign")
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, Self.isDigit(bytes[index]) else {
                throw .invalidJSON(offset: index, problem: "expected a digit after the decimal point")
            }
            while index < bytes.count, Self.isDigit(bytes[index]) {
                Self.accumulate(bytes[index], into: &mantissa, isExact: &isExact)
                fractionDigits += 1
                index += 1
            }
        }
        var exponent = 0
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            var isExponentNegative = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                isExponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            guard index < bytes.count, Self.isDigit(bytes[index]) else {
                throw .invalidJSON(offset: index, problem: "expected a digit in the exponent")
            }
            while index < bytes.count, Self.isDigit(bytes[index]) {
                if exponent < 100_000 { exponent = exponent * 10 + Int(bytes[index] &- UInt8(ascii: "0")) }
                index += 1
            }
            if isExponentNegative { exponent = -exponent }
        }
        position = index

        // Fast path (Clinger): an exact mantissa below 2^53 times or divided by an exact
        // power of ten up to 10^22 is one correctly rounded IEEE operation.
        let decimalExponent = exponent - fractionDigits
        if isExact, decimalExponent >= -22, decimalExponent <= 22 {
            var value = Double(mantissa)
            if decimalExponent < 0 {
                value /= Self.powerOfTen(-decimalExponent)
            } else if decimalExponent > 0 {
                value *= Self.powerOfTen(decimalExponent)
            }
            return isNegative ? -value : value
        }
        // General case: the platform's correctly rounded conversion (C locale). The text
        // has been checked against the JSON grammar, which is a subset of what it accepts.
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let value = Double(text) else {
            throw .invalidJSON(offset: start, problem: "the number cannot be read")
        }
        return value
    }

    /// 10^exponent for 0 ≤ exponent ≤ 22, the powers of ten a double holds exactly.
    private static func powerOfTen(_ exponent: Int) -> Double {
        switch exponent {
        case 0: 1e0
        case 1: 1e1
        case 2: 1e2
        case 3: 1e3
        case 4: 1e4
        case 5: 1e5
        case 6: 1e6
        case 7: 1e7
        case 8: 1e8
        case 9: 1e9
        case 10: 1e10
        case 11: 1e11
        case 12: 1e12
        case 13: 1e13
        case 14: 1e14
        case 15: 1e15
        case 16: 1e16
        case 17: 1e17
        case 18: 1e18
        case 19: 1e19
        case 20: 1e20
        case 21: 1e21
        default: 1e22
        }
    }

    /// Appends a decimal digit to `mantissa` while it stays below 10^15.
    private static func accumulate(_ digit: UInt8, into mantissa: inout UInt64, isExact: inout Bool) {
        guard isExact else { return }
        if mantissa >= 100_000_000_000_000 {
            isExact = false
        } else {
            mantissa = mantissa * 10 + UInt64(digit &- UInt8(ascii: "0"))
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte &- UInt8(ascii: "0") < 10
    }

    /// Reads a string whose opening quote is at the current position.
    private mutating func parseString() throws(PayloadRejection) -> String {
        let openingQuote = position
        let start = position + 1
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                position = index + 1
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") {
                return try parseEscapedString(openingQuote: openingQuote, firstEscape: index)
            }
            if byte < 0x20 { throw Self.unescapedControlCharacter(byte, at: index) }
            index += 1
        }
        throw .invalidJSON(offset: bytes.count, problem: "the payload ends inside the string that starts at byte \(openingQuote)")
    }

    /// Continues ``parseString()`` from the first backslash, unescaping into `scratch`.
    private mutating func parseEscapedString(openingQuote: Int, firstEscape: Int) throws(PayloadRejection) -> String {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[(openingQuote + 1)..<firstEscape]))
        var index = firstEscape
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                position = index + 1
                return String(decoding: scratch, as: UTF8.self)
            }
            if byte < 0x20 { throw Self.unescapedControlCharacter(byte, at: index) }
            guard byte == UInt8(ascii: "\\") else {
                scratch.append(byte)
                index += 1
                continue
            }
            guard index + 1 < bytes.count else { break }
            let escaped: UInt8
            switch bytes[index + 1] {
            case UInt8(ascii: "\""): escaped = UInt8(ascii: "\"")
            case UInt8(ascii: "\\"): escaped = UInt8(ascii: "\\")
            case UInt8(ascii: "/"): escaped = UInt8(ascii: "/")
            case UInt8(ascii: "b"): escaped = 0x08
            case UInt8(ascii: "f"): escaped = 0x0C
            case UInt8(ascii: "n"): escaped = 0x0A
            case UInt8(ascii: "r"): escaped = 0x0D
            case UInt8(ascii: "t"): escaped = 0x09
            case UInt8(ascii: "u"):
                index = try appendUnicodeEscape(at: index)
                continue
            default:
                throw .invalidJSON(
                    offset: index,
                    problem: "\(Self.describe(bytes[index + 1])) cannot follow a backslash; the escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX"
                )
            }
            scratch.append(escaped)
            index += 2
        }
        throw .invalidJSON(offset: bytes.count, problem: "the payload ends inside the string that starts at byte \(openingQuote)")
    }

    /// Decodes the `\uXXXX` escape (or surrogate pair of escapes) at `index`, appends the
    /// character's UTF-8 to `scratch`, and returns the index after the escape.
    private mutating func appendUnicodeEscape(at index: Int) throws(PayloadRejection) -> Int {
        let unit = try hexQuad(at: index + 2, escapeOffset: index)
        var scalarValue = UInt32(unit)
        var next = index + 6
        switch unit {
        case 0xD800...0xDBFF:
            guard next + 1 < bytes.count, bytes[next] == UInt8(ascii: "\\"), bytes[next + 1] == UInt8(ascii: "u") else {
                throw .invalidJSON(offset: index, problem: "the escape \\u\(Self.hex(unit)) is a high surrogate without the low surrogate escape that must follow it")
            }
            let low = try hexQuad(at: next + 2, escapeOffset: next)
            guard (0xDC00...0xDFFF).contains(low) else {
                throw .invalidJSON(offset: index, problem: "the escape \\u\(Self.hex(unit)) is a high surrogate followed by \\u\(Self.hex(low)), which is not a low surrogate")
            }
            scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
            next += 6
        case 0xDC00...0xDFFF:
            throw .invalidJSON(offset: index, problem: "the escape \\u\(Self.hex(unit)) is a low surrogate without a high surrogate before it")
        default:
            break
        }
        appendUTF8(scalarValue)
        return next
    }

    /// The 16-bit value of the four hex digits at `index`.
    private func hexQuad(at index: Int, escapeOffset: Int) throws(PayloadRejection) -> UInt16 {
        var value: UInt16 = 0
        for digitIndex in index..<(index + 4) {
            guard digitIndex < bytes.count else {
                throw .invalidJSON(offset: escapeOffset, problem: "the payload ends inside a \\u escape")
            }
            let byte = bytes[digitIndex]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default:
                throw .invalidJSON(offset: escapeOffset, problem: "a \\u escape needs four hex digits")
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }

    private mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case 0..<0x80:
            scratch.append(UInt8(scalar))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | scalar >> 6))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | scalar >> 12))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        default:
            scratch.append(UInt8(0xF0 | scalar >> 18))
            scratch.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    // MARK: - Errors

    private func endOfPayload(expecting expected: String) -> PayloadRejection {
        .invalidJSON(offset: position, problem: "the payload ends where \(expected) was expected")
    }

    private func unexpectedByte(expecting expected: String) -> PayloadRejection {
        .invalidJSON(offset: position, problem: "found \(Self.describe(bytes[position])) where \(expected) was expected")
    }

    private static func unescapedControlCharacter(_ byte: UInt8, at offset: Int) -> PayloadRejection {
        .invalidJSON(offset: offset, problem: "control character U+00\(hex(UInt16(byte)).suffix(2)) must be escaped inside a string")
    }

    /// A short description of a byte for error messages.
    private static func describe(_ byte: UInt8) -> String {
        switch byte {
        case 0x21...0x7E where byte != UInt8(ascii: "`"): "`\(Character(Unicode.Scalar(byte)))`"
        case UInt8(ascii: "`"): "a backtick"
        case 0x20: "a space"
        case 0x00..<0x20, 0x7F: "control character U+00\(hex(UInt16(byte)).suffix(2))"
        default: "a non-ASCII character"
        }
    }

    /// Four uppercase hex digits.
    private static func hex(_ value: UInt16) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }

    /// The path to the value being read: object keys joined by `.`, array indices in
    /// brackets (`values.temp`, `args.steps[2]`); empty at the top level.
    private static func path(of stack: [OpenContainer]) -> String {
        var path = ""
        for container in stack {
            if container.isObject {
                if !path.isEmpty { path += "." }
                path += container.pendingKey
            } else {
                path += "[\(container.elements.count)]"
            }
        }
        return path
    }
}
