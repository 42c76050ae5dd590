/// The engine's own deterministic random number generator: SplitMix64.
///
/// The simulator must produce the same messages for the same seed on every run and every
/// toolchain, so it does not use the standard library's `random(in:using:)` helpers (whose
/// algorithms are not promised to stay the same) and turns the raw 64-bit output into
/// numbers itself. Eight bytes of state, so every device can own independent streams.
struct SimRandom: Sendable, Hashable {
    private(set) var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    /// A generator for one independent stream derived from `seed`: devices and purposes
    /// (signal values, fault decisions) get their own streams, so that enabling a fault or
    /// adding a device does not change what any other stream draws.
    init(seed: UInt64, stream: UInt64, substream: UInt64 = 0) {
        var mixer = SimRandom(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03) ^ (substream &* 0x8CB9_2BA7_2F3D_8DD7))
        state = mixer.next()
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A double in `[0, 1)` with 53 random bits.
    mutating func unit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// A double in `[-1, 1)`: noise and random-walk steps.
    mutating func signedUnit() -> Double {
        unit() * 2 - 1
    }

    /// `true` with probability `probability`. Always draws, so that the stream advances the
    /// same way whatever the outcome.
    mutating func chance(_ probability: Double) -> Bool {
        unit() < probability
    }

    /// An integer in `0..<bound` (`bound` > 0). Uses Lemire's multiply-shift without the
    /// rejection step: the bias is below 2^-40 for the small bounds the engine uses.
    mutating func int(below bound: Int) -> Int {
        precondition(bound > 0, "SimRandom.int(below:) needs a positive bound")
        return Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// An integer in `range`.
    mutating func int64(in range: ClosedRange<Int64>) -> Int64 {
        let width = UInt64(bitPattern: range.upperBound &- range.lowerBound) &+ 1
        if width == 0 { return Int64(bitPattern: next()) }  // the full 64-bit range
        return range.lowerBound &+ Int64(bitPattern: next().multipliedFullWidth(by: width).high)
    }
}
