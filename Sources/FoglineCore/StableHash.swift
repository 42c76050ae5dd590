/// A hash that is the same in every process, build and release (unlike `Hasher`, which is
/// seeded per process), for digests that replicas compare over the network.
public protocol StableHashable {
    var stableHash: UInt64 { get }
}

/// FNV-1a over bytes, finished with the SplitMix64 mixer so nearby inputs spread.
public struct StableHasher: Sendable {
    private var state: UInt64 = 0xCBF2_9CE4_8422_2325

    public init() {}

    public mutating func combine(_ value: UInt64) {
        var value = value
        for _ in 0..<8 {
            state = (state ^ (value & 0xFF)) &* 0x0000_0100_0000_01B3
            value >>= 8
        }
    }

    /// The string's UTF-8 bytes followed by its length (so "ab","c" and "a","bc" differ).
    public mutating func combine(_ text: String) {
        combineBytes(of: text)
        combine(UInt64(text.utf8.count))
    }

    mutating func combineBytes(of text: String) {
        for byte in text.utf8 { state = (state ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    }

    public func finalize() -> UInt64 {
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension String: StableHashable {
    public var stableHash: UInt64 {
        var hasher = StableHasher()
        hasher.combine(self)
        return hasher.finalize()
    }
}

extension Int: StableHashable {
    public var stableHash: UInt64 {
        var hasher = StableHasher()
        hasher.combine(UInt64(bitPattern: Int64(self)))
        return hasher.finalize()
    }
}

extension Alarm: StableHashable {
    public var stableHash: UInt64 {
        var hasher = StableHasher()
        hasher.combine(device)
        hasher.combine(code)
        return hasher.finalize()
    }
}
