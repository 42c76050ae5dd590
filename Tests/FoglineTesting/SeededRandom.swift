#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small, fast, reproducible random number generator (SplitMix64) for property and
/// simulation tests. Every failure message prints the seed, so a run can be replayed exactly.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64
    public let seed: UInt64

    public init(seed: UInt64) {
        self.seed = seed
        self.state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniformly chosen integer in `range`.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        Int.random(in: range, using: &self)
    }

    /// `true` with the given probability.
    public mutating func chance(_ probability: Double) -> Bool {
        Double.random(in: 0..<1, using: &self) < probability
    }

    /// A random element of a non-empty collection.
    public mutating func pick<C: Collection>(_ elements: C) -> C.Element {
        elements.randomElement(using: &self)!
    }

    /// `count` random bytes.
    public mutating func bytes(count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }
}

/// The seeds a property test runs: `default` of them, times `FOGLINE_SEED_SCALE` (CI raises it);
/// `FOGLINE_SEED=S` replays exactly one.
public enum PropertySeeds {
    public static func seeds(default count: Int) -> [UInt64] {
        if let single = environment("FOGLINE_SEED").flatMap(UInt64.init) { return [single] }
        let scale = environment("FOGLINE_SEED_SCALE").flatMap(Int.init) ?? 1
        return (0..<UInt64(max(1, count * scale))).map { $0 &* 0x2545_F491_4F6C_DD1D &+ 1 }
    }

    private static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }
}
