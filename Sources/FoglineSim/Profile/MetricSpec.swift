/// One metric in a device's telemetry and how its values are generated.
public struct MetricSpec: Sendable, Hashable {
    /// The metric name: a key of the telemetry `values` and of the birth's `metrics`.
    public var name: String
    /// The unit announced in the birth; may be empty.
    public var unit: String
    /// Digits after the decimal point in telemetry: generated values are rounded so that
    /// payloads stay short and read like a real device's.
    public var decimals: Int
    /// How values are generated.
    public var generator: SignalGenerator

    /// A metric named `name` in `unit`, rounded to `decimals` digits.
    public init(name: String, unit: String, decimals: Int = 2, generator: SignalGenerator) {
        self.name = name
        self.unit = unit
        self.decimals = decimals
        self.generator = generator
    }
}

/// How a metric's values are generated, one sample per telemetry message.
///
/// Every generator draws from its device's own random stream, so a device's readings
/// depend only on the seed, its index and its own history.
public enum SignalGenerator: Sendable, Hashable {
    /// `offset + amplitude·sin(2π·(t/period + phase)) + noise·u`, `u` uniform in [-1, 1),
    /// `t` the seconds since the simulation started and `phase` a random fraction per
    /// device (so devices do not move in lock-step). With `offsetField`, the offset is the
    /// device's current value of that numeric reported field instead (a thermostat's
    /// temperature follows its setpoint).
    case sine(periodSeconds: Double, amplitude: Double, offset: Double, noise: Double, offsetField: String?)
    /// Starts at `start`; each sample adds `step·u`, `u` uniform in [-1, 1), and is held
    /// within `minimum...maximum`.
    case randomWalk(start: Double, step: Double, minimum: Double, maximum: Double)
    /// A counter that never decreases: starts at `start` and grows by about `ratePerSecond`
    /// per second of elapsed time (also while disconnected, like a meter), each increment
    /// scaled by `1 + jitter·u`, `u` uniform in [-1, 1) (`jitter` in 0...1).
    case counter(ratePerSecond: Double, start: Double, jitter: Double)
    /// `base + noise·u` most of the time; each sample starts a spike with `probability`,
    /// which lasts `length` samples at `base + spike·(0.6…1.0)`.
    case burst(base: Double, spike: Double, probability: Double, length: Int, noise: Double)
    /// A 0/1 state (a door: 1 is open) that starts at 0; each sample starts, with
    /// `probability`, a burst of `toggles` changes, one per sample.
    case event(probability: Double, toggles: Int)
    /// The device's current value of a numeric (or boolean, as 1/0) reported field, so
    /// that telemetry shows what commands and desired changes did (a valve's position).
    case reportedField(String)

    /// The generator's name as written in profiles.
    public var name: String {
        switch self {
        case .sine: "sine"
        case .randomWalk: "random_walk"
        case .counter: "counter"
        case .burst: "burst"
        case .event: "event"
        case .reportedField: "reported"
        }
    }
}
