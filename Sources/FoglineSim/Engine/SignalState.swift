import FoglineCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The state one metric's generator keeps per device: 16 bytes whatever the generator.
///
/// - `sine`: `value` is the device's phase, a fraction of a period.
/// - `random_walk`, `counter`: `value` is the current (unrounded) value.
/// - `burst`: `remaining` is the samples left in the current spike.
/// - `event`: `value` is the 0/1 state, `remaining` the changes left in the burst.
struct SignalState: Sendable, Hashable {
    var value: Double
    var remaining: Int

    init(for generator: SignalGenerator, random: inout SimRandom) {
        remaining = 0
        switch generator {
        case .sine: value = random.unit()
        case .randomWalk(let start, _, _, _): value = start
        case .counter(_, let start, _): value = start
        case .burst, .event, .reportedField: value = 0
        }
    }

    /// The next sample.
    ///
    /// - Parameters:
    ///   - elapsedSeconds: time since the simulation started (the sine's clock).
    ///   - secondsSinceLastSample: time since the device's previous sample, 0 for its first
    ///     (the counter's increment).
    ///   - referencedField: the current value of the reported field the generator follows
    ///     (`offset_field`, `reported`), if any.
    mutating func sample(
        _ generator: SignalGenerator,
        elapsedSeconds: Double,
        secondsSinceLastSample: Double,
        referencedField: FieldValue?,
        random: inout SimRandom
    ) -> Double {
        switch generator {
        case .sine(let period, let amplitude, let offset, let noise, _):
            let center = referencedField.flatMap(Self.number(of:)) ?? offset
            let angle = 2 * Double.pi * (elapsedSeconds / period + value)
            return center + amplitude * sin(angle) + noise * random.signedUnit()
        case .randomWalk(_, let step, let minimum, let maximum):
            value = min(max(value + step * random.signedUnit(), minimum), maximum)
            return value
        case .counter(let rate, _, let jitter):
            let factor = 1 + jitter * random.signedUnit()  // jitter <= 1 keeps it >= 0
            value += rate * secondsSinceLastSample * max(factor, 0)
            return value
        case .burst(let base, let spike, let probability, let length, let noise):
            let jiggle = noise * random.signedUnit()
            if remaining == 0, random.chance(probability) { remaining = length }
            guard remaining > 0 else { return base + jiggle }
            remaining -= 1
            return base + spike * (0.6 + 0.4 * random.unit()) + jiggle
        case .event(let probability, let toggles):
            if remaining == 0, random.chance(probability) { remaining = toggles }
            if remaining > 0 {
                remaining -= 1
                value = value == 0 ? 1 : 0
            }
            return value
        case .reportedField:
            return referencedField.flatMap(Self.number(of:)) ?? 0
        }
    }

    /// A numeric field's number; a boolean reads as 1 or 0.
    static func number(of field: FieldValue) -> Double? {
        switch field {
        case .number(let number): number
        case .bool(let flag): flag ? 1 : 0
        case .null, .string: nil
        }
    }

    /// `value` rounded to `decimals` digits, never `-0` (which would print as `-0`), and 0
    /// for a non-finite value so that a runaway generator cannot produce a payload the
    /// encoder refuses.
    static func rounded(_ value: Double, decimals: Int) -> Double {
        guard value.isFinite else { return 0 }
        let scale = powersOfTen[decimals]
        let result = (value * scale).rounded() / scale
        return result == 0 ? 0 : (result.isFinite ? result : value)
    }

    private static let powersOfTen: [Double] = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9]
}

/// `-ln(x)`, for exponentially distributed delays.
func negativeLogarithm(_ x: Double) -> Double {
    -log(x)
}
