import FoglineCore
import FoglineWire

/// A ``Profile`` checked and prepared for the engine: names resolved to indices and the
/// payloads every device of the profile shares (birth) encoded once.
struct ProfileRuntime: Sendable {
    let profile: Profile
    /// The index of the profile's first device in the simulation.
    let firstDevice: Int
    let deviceCount: Int
    /// Digits in device ids (`thermostat-0007`: 4).
    let idWidth: Int
    /// The telemetry interval at the normal rate, in milliseconds (before rounding).
    let intervalMillis: Double
    let metricNames: [String]
    /// Per metric, the reported field its generator follows, if any.
    let metricReferencedField: [Int?]
    let reportedNames: [String]
    let initialReported: [FieldValue]
    /// Per reported field, the desired rule that accepts it, if any.
    let desiredRuleByField: [String: (rule: DesiredFieldRule, field: Int)]
    /// Per command name, the command and the reported index of each assignment.
    let commandsByName: [String: (spec: CommandSpec, fields: [Int])]
    /// The birth every device of the profile announces.
    let birth: BirthPayload
    /// ``birth`` encoded once: the payload of every device's first birth.
    let firstBirthPayload: [UInt8]

    init(profile: Profile, firstDevice: Int, count: Int, rateOverride: Double?) throws(SimulationError) {
        let kind = profile.kind
        func fail(_ message: String) -> SimulationError {
            SimulationError(message: "profile \"\(kind)\": \(message)")
        }
        self.profile = profile
        self.firstDevice = firstDevice
        self.deviceCount = count
        idWidth = max(4, String(count).count)
        guard SegmentName.isValid("\(kind)-\(String(repeating: "0", count: idWidth))") else {
            throw fail("the kind cannot make valid device ids (\(kind)-\(String(repeating: "0", count: idWidth))); use at most \(SegmentName.maxLength - idWidth - 1) letters, digits, `_`, `.` or `-`")
        }
        let rate = rateOverride ?? profile.rateHz
        guard rate > 0, rate <= Profile.maxRateHz else {
            throw fail("the telemetry rate must be more than 0 and at most \(Int(Profile.maxRateHz)) per second, got \(rate)")
        }
        intervalMillis = 1_000 / rate
        guard !profile.metrics.isEmpty else { throw fail("a profile needs at least one metric") }
        guard profile.replayBufferSize >= 0, profile.replayBufferSize <= Profile.maxReplayBufferSize,
            !profile.supportsReplay || profile.replayBufferSize > 0
        else {
            throw fail("a device that supports replay needs a replay buffer of 1 to \(Profile.maxReplayBufferSize) readings")
        }
        do {
            birth = try BirthPayload(
                profile: kind, firmware: profile.firmware,
                metrics: profile.metrics.map { (name: $0.name, unit: $0.unit) },
                supportsReplay: profile.supportsReplay
            )
            firstBirthPayload = birth.encoded()
            _ = try ReportedPayload(fields: profile.reported.map { (name: $0.name, value: $0.initialValue) })
        } catch {
            throw fail("\(error)")
        }
        metricNames = profile.metrics.map(\.name)
        reportedNames = profile.reported.map(\.name)
        initialReported = profile.reported.map(\.initialValue)
        let names = reportedNames
        func fieldIndex(_ name: String, _ user: String) throws(SimulationError) -> Int {
            guard let index = names.firstIndex(of: name) else {
                throw fail("\(user) refers to the reported field \"\(name)\", which the profile does not declare")
            }
            return index
        }

        var referenced: [Int?] = []
        for metric in profile.metrics {
            guard (0...9).contains(metric.decimals) else { throw fail("metric \"\(metric.name)\" has \(metric.decimals) decimals; use 0 to 9") }
            switch metric.generator {
            case .sine(_, _, _, _, let field?), .reportedField(let field):
                referenced.append(try fieldIndex(field, "metric \"\(metric.name)\""))
            default:
                referenced.append(nil)
            }
        }
        metricReferencedField = referenced

        var desired: [String: (rule: DesiredFieldRule, field: Int)] = [:]
        for rule in profile.desired {
            desired[rule.field] = (rule, try fieldIndex(rule.field, "the desired rule"))
        }
        desiredRuleByField = desired

        var commands: [String: (spec: CommandSpec, fields: [Int])] = [:]
        for command in profile.commands {
            guard PayloadName.isValid(command.name), commands[command.name] == nil else {
                throw fail("the command name \"\(command.name)\" is empty, too long or given twice")
            }
            var fields: [Int] = []
            for assignment in command.assignments {
                fields.append(try fieldIndex(assignment.field, "command \"\(command.name)\""))
            }
            commands[command.name] = (command, fields)
        }
        commandsByName = commands
    }

    /// The birth of a device whose next reading is `nextSeq`: after the first, a birth continues
    /// the stream (``FoglineWire/BirthPayload/nextSeq``).
    func birthPayload(nextSeq: UInt64) -> [UInt8] {
        guard nextSeq > 0, let continuing = try? birth.continuing(at: nextSeq) else { return firstBirthPayload }
        return continuing.encoded()
    }

    /// The id of the profile's `ordinal`-th device (from 0): `thermostat-0001` for 0.
    func deviceID(ordinal: Int) -> String {
        let number = String(ordinal + 1)
        return "\(profile.kind)-\(String(repeating: "0", count: max(0, idWidth - number.count)))\(number)"
    }

    /// The telemetry interval at `elapsedMillis` after the start, in whole milliseconds
    /// (at least 1): shorter while a `burst` fault is on.
    func telemetryInterval(elapsedMillis: Int64, burst: FaultPlan.Burst?) -> Int64 {
        var interval = intervalMillis
        if let burst, burst.isActive(elapsedMillis: elapsedMillis) { interval /= burst.rateMultiplier }
        return max(1, Int64(interval.rounded()))
    }

    /// The command names in profile order, for error details.
    var commandNamesList: String {
        let names = profile.commands.map(\.name)
        return names.isEmpty ? "no commands" : names.joined(separator: ", ")
    }
}
