/// The faults a simulation injects, parsed from repeatable `--fault NAME=VALUE` options.
///
/// | option | effect |
/// | --- | --- |
/// | `disconnect=P` | each connected device drops its connection abruptly (its will fires) with probability `P` per second, reconnects after a short random delay (``reconnectDelayMillis``), is born again and restarts its `seq` at 0. `0 <= P < 1`. |
/// | `skew=SECONDS` | every device's `ts` is off by `SECONDS` (may be negative or fractional). Data only: it changes no timing. |
/// | `duplicate=P` | each published telemetry message is sent a second time, same bytes, with probability `P`. |
/// | `malformed=P` | after each telemetry reading, with probability `P`, the device also sends one bad message (see ``MalformedVariant``). |
/// | `burst=M:S[:EVERY]` | every `EVERY` seconds (default `3×S`) all devices send `M` times faster for `S` seconds, at the end of each period: `burst=10:5` is 10 quiet seconds, then 5 at ×10. |
/// | `gap=P` | each telemetry reading is withheld with probability `P`: its `seq` is used up and it stays in the replay buffer, so the edge sees a gap it can ask to replay. |
///
/// Probabilities of `duplicate`, `malformed` and `gap` are per telemetry reading. A fault
/// given twice is an error, as is an unknown name or a value out of range.
public struct FaultPlan: Sendable, Hashable, CustomStringConvertible {
    /// Probability per connected device per second of an abrupt disconnect.
    public var disconnectPerSecond: Double = 0
    /// Offset added to every device's `ts`, in milliseconds.
    public var skewMillis: Int64 = 0
    /// Probability per published reading of sending it twice.
    public var duplicateProbability: Double = 0
    /// Probability per reading of also sending a malformed message.
    public var malformedProbability: Double = 0
    /// Periodic rate bursts, if any.
    public var burst: Burst?
    /// Probability per reading of withholding it (a gap).
    public var gapProbability: Double = 0
    /// How long a device waits before reconnecting after the `disconnect` fault dropped it
    /// (uniformly random within the range). Not an option: tests may change it.
    public var reconnectDelayMillis: ClosedRange<Int64> = 500...3_000

    /// Periodic bursts of faster telemetry from every device at once.
    public struct Burst: Sendable, Hashable {
        /// How many times faster devices send during a burst (more than 1).
        public var rateMultiplier: Double
        /// How long a burst lasts, in milliseconds.
        public var durationMillis: Int64
        /// The time from the start of one period to the next, in milliseconds; each period
        /// ends with a burst.
        public var periodMillis: Int64

        /// A burst of `rateMultiplier` × the rate for `durationMillis` at the end of every `periodMillis`.
        public init(rateMultiplier: Double, durationMillis: Int64, periodMillis: Int64) {
            self.rateMultiplier = rateMultiplier
            self.durationMillis = durationMillis
            self.periodMillis = periodMillis
        }

        /// Whether a burst is on `elapsedMillis` after the simulation started.
        public func isActive(elapsedMillis: Int64) -> Bool {
            guard elapsedMillis >= 0 else { return false }
            return elapsedMillis % periodMillis >= periodMillis - durationMillis
        }
    }

    /// No faults.
    public static let none = FaultPlan()

    /// A plan without faults (the same as ``none``).
    public init() {}

    /// Whether any fault is on.
    public var isEmpty: Bool {
        disconnectPerSecond == 0 && skewMillis == 0 && duplicateProbability == 0 && malformedProbability == 0
            && burst == nil && gapProbability == 0
    }

    /// The plan for the given `--fault` values, e.g. `["gap=0.01", "burst=10:5"]`.
    public static func parse(_ options: [String]) throws(FaultPlanError) -> FaultPlan {
        var plan = FaultPlan()
        var given: Set<String> = []
        for option in options {
            try plan.apply(option, given: &given)
        }
        return plan
    }

    private mutating func apply(_ option: String, given: inout Set<String>) throws(FaultPlanError) {
        guard let equals = option.firstIndex(of: "=") else {
            throw FaultPlanError(option: option, message: "write NAME=VALUE with NAME one of \(Self.names.joined(separator: ", ")) (for example gap=0.01)")
        }
        let name = String(option[..<equals])
        let value = String(option[option.index(after: equals)...])
        guard Self.names.contains(name) else {
            throw FaultPlanError(option: option, message: "unknown fault \"\(name)\"; the faults are \(Self.names.joined(separator: ", "))")
        }
        guard given.insert(name).inserted else {
            throw FaultPlanError(option: option, message: "the fault \(name) is given more than once; give each fault once")
        }
        func number(_ text: String, _ what: String) throws(FaultPlanError) -> Double {
            guard ProfileYAMLReader.isDecimalNumber(text), let number = Double(text), number.isFinite else {
                throw FaultPlanError(option: option, message: "\(what) must be a number, got \"\(text)\"")
            }
            return number
        }
        func probability(below upper: Double? = nil) throws(FaultPlanError) -> Double {
            let p = try number(value, "the probability")
            let valid = upper.map { p >= 0 && p < $0 } ?? (p >= 0 && p <= 1)
            guard valid else {
                let range = upper == nil ? "from 0 to 1" : "from 0 up to (not including) 1"
                throw FaultPlanError(option: option, message: "the probability must be \(range), got \(value) (for example \(name)=0.01)")
            }
            return p
        }
        switch name {
        case "disconnect":
            disconnectPerSecond = try probability(below: 1)
        case "skew":
            let seconds = try number(value, "the skew in seconds")
            let tenYears = 315_360_000.0
            guard seconds.magnitude <= tenYears else {
                throw FaultPlanError(option: option, message: "the skew must be at most ten years (\(Int(tenYears)) seconds) either way, got \(value)")
            }
            skewMillis = Int64((seconds * 1_000).rounded())
        case "duplicate":
            duplicateProbability = try probability()
        case "malformed":
            malformedProbability = try probability()
        case "gap":
            gapProbability = try probability()
        default:  // burst
            let parts = value.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 || parts.count == 3 else {
                throw FaultPlanError(option: option, message: "write burst=MULTIPLIER:SECONDS or burst=MULTIPLIER:SECONDS:EVERY (for example burst=10:5)")
            }
            let multiplier = try number(parts[0], "the rate multiplier")
            guard multiplier > 1, multiplier <= 1_000 else {
                throw FaultPlanError(option: option, message: "the rate multiplier must be more than 1 and at most 1000, got \(parts[0])")
            }
            let seconds = try number(parts[1], "the burst length in seconds")
            guard seconds >= 0.001, seconds <= 86_400 else {
                throw FaultPlanError(option: option, message: "the burst length must be from 0.001 to 86400 seconds, got \(parts[1])")
            }
            let durationMillis = Int64((seconds * 1_000).rounded())
            var periodMillis = durationMillis * 3
            if parts.count == 3 {
                let every = try number(parts[2], "the burst period in seconds")
                periodMillis = Int64((every * 1_000).rounded())
                guard periodMillis > durationMillis, every <= 864_000 else {
                    throw FaultPlanError(option: option, message: "the burst period must be longer than the burst (\(parts[1]) s) and at most 864000 seconds, got \(parts[2])")
                }
            }
            burst = Burst(rateMultiplier: multiplier, durationMillis: durationMillis, periodMillis: periodMillis)
        }
    }

    /// The fault names, in the order ``description`` lists them.
    public static let names = ["disconnect", "skew", "duplicate", "malformed", "burst", "gap"]

    /// The plan as `--fault` options (`burst=10:5:15 gap=0.01`), or `none`. Parsing the
    /// options back gives the same plan.
    public var description: String {
        // Whole numbers without ".0", so that the text reads like what was typed.
        let format = FieldConstraint.format
        var options: [String] = []
        if disconnectPerSecond > 0 { options.append("disconnect=\(format(disconnectPerSecond))") }
        if skewMillis != 0 { options.append("skew=\(format(Double(skewMillis) / 1_000))") }
        if duplicateProbability > 0 { options.append("duplicate=\(format(duplicateProbability))") }
        if malformedProbability > 0 { options.append("malformed=\(format(malformedProbability))") }
        if let burst {
            let seconds = { (millis: Int64) in format(Double(millis) / 1_000) }
            options.append("burst=\(format(burst.rateMultiplier)):\(seconds(burst.durationMillis)):\(seconds(burst.periodMillis))")
        }
        if gapProbability > 0 { options.append("gap=\(format(gapProbability))") }
        return options.isEmpty ? "none" : options.joined(separator: " ")
    }
}
