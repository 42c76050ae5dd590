/// A key press, decoded from the terminal's input bytes.
public enum DashKey: Equatable, Sendable {
    case up, down, left, right, pageUp, pageDown, home, end
    case enter, escape, backspace, tab
    /// Ctrl-C (raw mode delivers it as a byte, not as SIGINT).
    case interrupt
    case character(Character)
}

/// Decodes terminal input bytes into keys: UTF-8 text, control bytes, and the CSI/SS3 sequences
/// of arrows, Home/End and Page Up/Down (both the xterm and the VT220 forms).
///
/// A lone ESC is the Escape key: terminals send a whole escape sequence in one write, so an ESC
/// that ends a read is not the start of one. Unknown sequences are dropped whole.
public struct KeyDecoder: Sendable {
    public init() {}

    /// The keys in one read's bytes.
    public func decode(_ bytes: [UInt8]) -> [DashKey] {
        var keys: [DashKey] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case 0x1B:
                let (key, length) = escapeSequence(bytes, at: index)
                if let key { keys.append(key) }
                index += length
                continue
            case 0x0D, 0x0A: keys.append(.enter)
            case 0x7F, 0x08: keys.append(.backspace)
            case 0x09: keys.append(.tab)
            case 0x03: keys.append(.interrupt)
            case 0x00..<0x20: break  // other control bytes mean nothing here
            default:
                let length = Self.utf8Length(byte)
                if length > 0, index + length <= bytes.count,
                    let text = String(validating: bytes[index..<(index + length)], as: UTF8.self), let character = text.first
                {
                    keys.append(.character(character))
                    index += length
                    continue
                }
            }
            index += 1
        }
        return keys
    }

    private func escapeSequence(_ bytes: [UInt8], at start: Int) -> (DashKey?, Int) {
        guard start + 1 < bytes.count else { return (.escape, 1) }
        let introducer = bytes[start + 1]
        if introducer == UInt8(ascii: "O"), start + 2 < bytes.count {  // SS3: ESC O A
            return (finalKey(bytes[start + 2], parameter: nil), 3)
        }
        guard introducer == UInt8(ascii: "[") else { return (.escape, 1) }  // ESC then another key
        var index = start + 2
        var parameter = ""
        while index < bytes.count, (0x30...0x3F).contains(bytes[index]) {  // parameter bytes
            parameter.append(Character(Unicode.Scalar(bytes[index])))
            index += 1
        }
        while index < bytes.count, (0x20...0x2F).contains(bytes[index]) { index += 1 }  // intermediates
        guard index < bytes.count else { return (nil, index - start) }
        return (finalKey(bytes[index], parameter: parameter), index + 1 - start)
    }

    private func finalKey(_ byte: UInt8, parameter: String?) -> DashKey? {
        switch byte {
        case UInt8(ascii: "A"): return .up
        case UInt8(ascii: "B"): return .down
        case UInt8(ascii: "C"): return .right
        case UInt8(ascii: "D"): return .left
        case UInt8(ascii: "H"): return .home
        case UInt8(ascii: "F"): return .end
        case UInt8(ascii: "~"):
            switch parameter?.split(separator: ";").first {
            case "1", "7": return .home
            case "4", "8": return .end
            case "5": return .pageUp
            case "6": return .pageDown
            default: return nil
            }
        default: return nil
        }
    }

    private static func utf8Length(_ lead: UInt8) -> Int {
        switch lead {
        case 0x20..<0x80: 1
        case 0xC2..<0xE0: 2
        case 0xE0..<0xF0: 3
        case 0xF0..<0xF5: 4
        default: 0
        }
    }
}
