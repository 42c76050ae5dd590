/// A hybrid logical clock timestamp: 48 bits of physical milliseconds since the Unix epoch,
/// a 16-bit logical counter, and the id of the node that issued it as a tie-breaker.
///
/// Timestamps are totally ordered by (milliseconds, counter, node). The first two are packed
/// into one `UInt64` (`logical`), so comparing and advancing a timestamp is integer arithmetic
/// and a counter overflow carries into the next millisecond by itself.
public struct HLCTimestamp: Hashable, Comparable, Sendable {
    /// `milliseconds << 16 | counter`.
    public var logical: UInt64
    public var node: NodeID

    /// The largest representable physical time (2^48 − 1 ms, the year 10889).
    public static let maxMilliseconds: UInt64 = (1 << 48) - 1

    @inlinable
    public init(logical: UInt64, node: NodeID) {
        self.logical = logical
        self.node = node
    }

    @inlinable
    public init(milliseconds: UInt64, counter: UInt16, node: NodeID) {
        self.logical = (milliseconds << 16) | UInt64(counter)
        self.node = node
    }

    /// Physical component, milliseconds since the Unix epoch.
    @inlinable public var milliseconds: UInt64 { logical >> 16 }
    /// Logical component.
    @inlinable public var counter: UInt16 { UInt16(truncatingIfNeeded: logical) }

    @inlinable
    public static func < (lhs: HLCTimestamp, rhs: HLCTimestamp) -> Bool {
        lhs.logical != rhs.logical ? lhs.logical < rhs.logical : lhs.node < rhs.node
    }
}

extension HLCTimestamp: CustomStringConvertible, LosslessStringConvertible {
    /// `MILLIS.COUNTER@NODE`, e.g. `1763800000123.0004@9f3a6c01d2e4b587`: sortable by eye,
    /// and the form used in the `hlc` field of `desired` payloads.
    public var description: String {
        let counterDigits = String(counter)
        return "\(milliseconds).\(String(repeating: "0", count: 5 - counterDigits.count))\(counterDigits)@\(node)"
    }

    public init?(_ text: String) {
        guard let at = text.firstIndex(of: "@"), let dot = text[..<at].firstIndex(of: ".") else { return nil }
        let millisText = text[..<dot]
        let counterText = text[text.index(after: dot)..<at]
        guard !millisText.isEmpty, millisText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
            !counterText.isEmpty, counterText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
            let millis = UInt64(millisText), millis <= Self.maxMilliseconds,
            let counter = UInt16(counterText),
            let node = NodeID(hex: text[text.index(after: at)...])
        else { return nil }
        self.init(milliseconds: millis, counter: counter, node: node)
    }
}
