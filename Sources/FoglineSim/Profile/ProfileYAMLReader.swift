import FoglineCore
import FoglineWire
import Yams

/// Reads a ``Profile`` from a composed YAML tree, checking every key as it goes.
///
/// It walks Yams' `Node`s rather than decoding with `YAMLDecoder` because nodes carry
/// their line, so every error can name the line as well as the key. Scalars are typed by
/// YAML 1.2 rules, not Yams' YAML 1.1 ones: only `true`/`false` are booleans, so a mode
/// written `off` stays the string "off".
struct ProfileYAMLReader {
    let file: String

    static let topLevelKeys = [
        "kind", "firmware", "rate_hz", "telemetry_qos", "supports_replay", "replay_buffer",
        "metrics", "reported", "desired", "commands",
    ]
    static let generatorKeys = ["sine", "random_walk", "counter", "burst", "event", "reported"]

    // MARK: - Profile

    func profile(from root: Node) throws(ProfileError) -> Profile {
        let top = try mapping(root, key: "")
        try top.rejectUnknownKeys(Self.topLevelKeys, reader: self)

        let kindNode = try top.required("kind", reader: self)
        let kind = try string(kindNode, key: "kind")
        if let problem = SegmentName.problem(with: kind) {
            throw error(kindNode, "kind", "the kind \(problem); it becomes part of device ids and topics, so use letters, digits, `_`, `.` and `-` only")
        }
        let longestKind = SegmentName.maxLength - 5  // room for "-0001"
        if kind.utf8.count > longestKind {
            throw error(kindNode, "kind", "the kind is \(kind.utf8.count) characters long; use at most \(longestKind), so that device ids (kind-0001) fit in a topic segment")
        }

        let firmwareNode = try top.required("firmware", reader: self)
        let firmware = try string(firmwareNode, key: "firmware")
        if firmware.isEmpty { throw error(firmwareNode, "firmware", "the firmware version is empty; write one, e.g. \"1.0.0\"") }

        let rateNode = try top.required("rate_hz", reader: self)
        let rateHz = try number(rateNode, key: "rate_hz")
        guard rateHz > 0, rateHz <= Profile.maxRateHz else {
            throw error(rateNode, "rate_hz", "must be more than 0 and at most \(Int(Profile.maxRateHz)) messages per second, got \(FieldConstraint.format(rateHz))")
        }

        var qos = SimQoS.atLeastOnce
        if let qosNode = top.optional("telemetry_qos") {
            let level = try integer(qosNode, key: "telemetry_qos", in: 0...1, meaning: "0 (at most once) or 1 (at least once)")
            qos = level == 0 ? .atMostOnce : .atLeastOnce
        }

        let replayNode = try top.required("supports_replay", reader: self)
        let supportsReplay = try bool(replayNode, key: "supports_replay")
        var replayBufferSize = 0
        if let bufferNode = top.optional("replay_buffer") {
            guard supportsReplay else {
                throw error(bufferNode, "replay_buffer", "only a device that supports replay keeps a replay buffer; remove the key or set supports_replay: true")
            }
            replayBufferSize = try integer(
                bufferNode, key: "replay_buffer", in: 1...Profile.maxReplayBufferSize,
                meaning: "the number of readings kept, from 1 to \(Profile.maxReplayBufferSize)")
        } else if supportsReplay {
            throw error(top.node, "replay_buffer", "a device that supports replay needs replay_buffer: how many of its latest readings it keeps (e.g. 128)")
        }

        // Reported fields first: metrics, desired and commands refer to them.
        let reported = try reportedFields(top.optional("reported"))
        let metrics = try metricSpecs(try top.required("metrics", reader: self), reported: reported)
        let desired = try desiredRules(top.optional("desired"), reported: reported)
        let commands = try commandSpecs(top.optional("commands"), reported: reported)

        return Profile(
            kind: kind, firmware: firmware, rateHz: rateHz, telemetryQoS: qos,
            supportsReplay: supportsReplay, replayBufferSize: replayBufferSize,
            metrics: metrics, reported: reported, desired: desired, commands: commands
        )
    }

    // MARK: - Sections

    private func reportedFields(_ node: Node?) throws(ProfileError) -> [ReportedField] {
        guard let node, !isNull(node) else { return [] }
        let fields = try mapping(node, key: "reported")
        var result: [ReportedField] = []
        for entry in fields.entries {
            let key = "reported.\(entry.key)"
            try checkPayloadName(entry.key, node: entry.keyNode, key: key, what: "field name")
            result.append(ReportedField(name: entry.key, initialValue: try fieldValue(entry.value, key: key)))
        }
        return result
    }

    private func metricSpecs(_ node: Node, reported: [ReportedField]) throws(ProfileError) -> [MetricSpec] {
        guard case .sequence(let sequence) = node, !sequence.isEmpty else {
            throw error(node, "metrics", "must be a non-empty list of metrics, each with name, unit and one generator (\(Self.generatorKeys.joined(separator: ", ")))")
        }
        var metrics: [MetricSpec] = []
        for (index, item) in sequence.enumerated() {
            let path = "metrics[\(index)]"
            let fields = try mapping(item, key: path)
            try fields.rejectUnknownKeys(["name", "unit", "decimals"] + Self.generatorKeys, reader: self)
            let nameNode = try fields.required("name", reader: self)
            let name = try string(nameNode, key: "\(path).name")
            try checkPayloadName(name, node: nameNode, key: "\(path).name", what: "metric name")
            if metrics.contains(where: { $0.name == name }) {
                throw error(nameNode, "\(path).name", "the metric \"\(name)\" is declared twice; give each metric once")
            }
            let unit = try string(try fields.required("unit", reader: self), key: "\(path).unit")
            var decimals = 2
            if let decimalsNode = fields.optional("decimals") {
                decimals = try integer(decimalsNode, key: "\(path).decimals", in: 0...9, meaning: "the digits after the decimal point, from 0 to 9")
            }
            let present = fields.entries.filter { Self.generatorKeys.contains($0.key) }
            guard present.count == 1, let generatorEntry = present.first else {
                let found = present.isEmpty ? "none" : present.map(\.key).joined(separator: " and ")
                throw error(item, path, "needs exactly one generator (\(Self.generatorKeys.joined(separator: ", "))), found \(found)")
            }
            let generator = try signalGenerator(
                generatorEntry.key, generatorEntry.value, key: "\(path).\(generatorEntry.key)", reported: reported)
            metrics.append(MetricSpec(name: name, unit: unit, decimals: decimals, generator: generator))
        }
        return metrics
    }

    private func signalGenerator(_ name: String, _ node: Node, key path: String, reported: [ReportedField]) throws(ProfileError) -> SignalGenerator {
        let fields = try mapping(node, key: path)
        func required(_ key: String) throws(ProfileError) -> Double {
            try number(try fields.required(key, reader: self), key: "\(path).\(key)")
        }
        func optional(_ key: String, default value: Double) throws(ProfileError) -> Double {
            guard let node = fields.optional(key) else { return value }
            return try number(node, key: "\(path).\(key)")
        }
        func check(_ condition: Bool, _ key: String, _ message: String) throws(ProfileError) {
            if !condition { throw error(fields.optional(key) ?? node, "\(path).\(key)", message) }
        }
        switch name {
        case "sine":
            try fields.rejectUnknownKeys(["period_s", "amplitude", "offset", "noise", "offset_field"], reader: self)
            let period = try required("period_s")
            try check(period > 0, "period_s", "the period must be more than 0 seconds")
            let amplitude = try required("amplitude")
            let offset = try optional("offset", default: 0)
            let noise = try optional("noise", default: 0)
            try check(noise >= 0, "noise", "the noise must be 0 or more")
            var offsetField: String?
            if let fieldNode = fields.optional("offset_field") {
                offsetField = try numericReportedField(fieldNode, key: "\(path).offset_field", reported: reported)
            }
            return .sine(periodSeconds: period, amplitude: amplitude, offset: offset, noise: noise, offsetField: offsetField)
        case "random_walk":
            try fields.rejectUnknownKeys(["start", "step", "min", "max"], reader: self)
            let start = try required("start")
            let step = try required("step")
            try check(step >= 0, "step", "the step must be 0 or more")
            let minimum = try required("min")
            let maximum = try required("max")
            try check(minimum <= maximum, "max", "max must be at least min (\(FieldConstraint.format(minimum)))")
            try check(start >= minimum && start <= maximum, "start", "start must lie between min and max")
            return .randomWalk(start: start, step: step, minimum: minimum, maximum: maximum)
        case "counter":
            try fields.rejectUnknownKeys(["rate_per_s", "start", "jitter"], reader: self)
            let rate = try required("rate_per_s")
            try check(rate >= 0, "rate_per_s", "a counter never decreases: the rate must be 0 or more")
            let start = try optional("start", default: 0)
            let jitter = try optional("jitter", default: 0)
            try check(jitter >= 0 && jitter <= 1, "jitter", "the jitter must be from 0 to 1 (a fraction of the rate)")
            return .counter(ratePerSecond: rate, start: start, jitter: jitter)
        case "burst":
            try fields.rejectUnknownKeys(["base", "spike", "probability", "length", "noise"], reader: self)
            let base = try required("base")
            let spike = try required("spike")
            let probability = try required("probability")
            try check(probability >= 0 && probability <= 1, "probability", "the probability must be from 0 to 1")
            var length = 3
            if let lengthNode = fields.optional("length") {
                length = try integer(lengthNode, key: "\(path).length", in: 1...10_000, meaning: "the samples a spike lasts, from 1 to 10000")
            }
            let noise = try optional("noise", default: 0)
            try check(noise >= 0, "noise", "the noise must be 0 or more")
            return .burst(base: base, spike: spike, probability: probability, length: length, noise: noise)
        case "event":
            try fields.rejectUnknownKeys(["probability", "toggles"], reader: self)
            let probability = try required("probability")
            try check(probability >= 0 && probability <= 1, "probability", "the probability must be from 0 to 1")
            var toggles = 2
            if let togglesNode = fields.optional("toggles") {
                toggles = try integer(togglesNode, key: "\(path).toggles", in: 1...10_000, meaning: "the changes in one burst, from 1 to 10000")
            }
            return .event(probability: probability, toggles: toggles)
        default:  // "reported"
            try fields.rejectUnknownKeys(["field"], reader: self)
            let field = try numericReportedField(try fields.required("field", reader: self), key: "\(path).field", reported: reported)
            return .reportedField(field)
        }
    }

    private func desiredRules(_ node: Node?, reported: [ReportedField]) throws(ProfileError) -> [DesiredFieldRule] {
        guard let node, !isNull(node) else { return [] }
        let fields = try mapping(node, key: "desired")
        var rules: [DesiredFieldRule] = []
        for entry in fields.entries {
            let key = "desired.\(entry.key)"
            guard let field = reported.first(where: { $0.name == entry.key }) else {
                throw error(entry.keyNode, key, "a device applies a desired field to the reported field of the same name; declare \"\(entry.key)\" under reported with its initial value")
            }
            let constraint = try constraint(entry.value, key: key, fieldValue: field.initialValue, extraKeys: [])
            rules.append(DesiredFieldRule(field: entry.key, constraint: constraint))
        }
        return rules
    }

    private func commandSpecs(_ node: Node?, reported: [ReportedField]) throws(ProfileError) -> [CommandSpec] {
        guard let node, !isNull(node) else { return [] }
        let commands = try mapping(node, key: "commands")
        var specs: [CommandSpec] = []
        for command in commands.entries {
            let commandKey = "commands.\(command.key)"
            try checkPayloadName(command.key, node: command.keyNode, key: commandKey, what: "command name")
            var assignments: [FieldAssignment] = []
            if !isNull(command.value) {
                let fields = try mapping(command.value, key: commandKey)
                for assignment in fields.entries {
                    let key = "\(commandKey).\(assignment.key)"
                    guard let field = reported.first(where: { $0.name == assignment.key }) else {
                        throw error(assignment.keyNode, key, "a command sets reported fields; declare \"\(assignment.key)\" under reported with its initial value")
                    }
                    assignments.append(FieldAssignment(
                        field: assignment.key,
                        source: try assignmentSource(assignment.value, key: key, field: field)))
                }
            }
            specs.append(CommandSpec(name: command.key, assignments: assignments))
        }
        return specs
    }

    /// A constant (a scalar) or an argument (`{arg, default, min, max, one_of}`).
    private func assignmentSource(_ node: Node, key: String, field: ReportedField) throws(ProfileError) -> FieldAssignment.Source {
        guard case .mapping = node else {
            let value = try fieldValue(node, key: key)
            if let problem = FieldConstraint().problem(with: value, current: field.initialValue) {
                throw error(node, key, "the value \(problem), the type of reported field \"\(field.name)\"")
            }
            return .constant(value)
        }
        let fields = try mapping(node, key: key)
        let argumentNode = try fields.required("arg", reader: self)
        let argument = try string(argumentNode, key: "\(key).arg")
        try checkPayloadName(argument, node: argumentNode, key: "\(key).arg", what: "argument name")
        let constraint = try constraint(node, key: key, fieldValue: field.initialValue, extraKeys: ["arg", "default"])
        var defaultValue: FieldValue?
        if let defaultNode = fields.optional("default") {
            let value = try fieldValue(defaultNode, key: "\(key).default")
            if let problem = constraint.problem(with: value, current: field.initialValue) {
                throw error(defaultNode, "\(key).default", "the default \(problem)")
            }
            defaultValue = value
        }
        return .argument(name: argument, defaultValue: defaultValue, constraint: constraint)
    }

    /// `{min, max}` for a numeric field, `{one_of}` for a string field; `{}` or nothing for none.
    private func constraint(_ node: Node, key: String, fieldValue: FieldValue, extraKeys: [String]) throws(ProfileError) -> FieldConstraint {
        if isNull(node) { return FieldConstraint() }
        let fields = try mapping(node, key: key)
        try fields.rejectUnknownKeys(extraKeys + ["min", "max", "one_of"], reader: self)
        var constraint = FieldConstraint()
        for bound in ["min", "max"] {
            guard let boundNode = fields.optional(bound) else { continue }
            guard case .number = fieldValue else {
                throw error(boundNode, "\(key).\(bound)", "only numeric fields take \(bound); this field starts as \(FieldConstraint.kindName(of: fieldValue))")
            }
            let value = try number(boundNode, key: "\(key).\(bound)")
            if bound == "min" { constraint.minimum = value } else { constraint.maximum = value }
        }
        if let minimum = constraint.minimum, let maximum = constraint.maximum, minimum > maximum {
            throw error(fields.optional("max") ?? node, "\(key).max", "max must be at least min (\(FieldConstraint.format(minimum)))")
        }
        if let oneOfNode = fields.optional("one_of") {
            guard case .string = fieldValue else {
                throw error(oneOfNode, "\(key).one_of", "only string fields take one_of; this field starts as \(FieldConstraint.kindName(of: fieldValue))")
            }
            guard case .sequence(let items) = oneOfNode, !items.isEmpty else {
                throw error(oneOfNode, "\(key).one_of", "must be a non-empty list of the accepted strings, e.g. [heat, cool, off]")
            }
            var allowed: [String] = []
            for (index, item) in items.enumerated() {
                allowed.append(try string(item, key: "\(key).one_of[\(index)]"))
            }
            constraint.allowedStrings = allowed
        }
        return constraint
    }

    private func numericReportedField(_ node: Node, key: String, reported: [ReportedField]) throws(ProfileError) -> String {
        let name = try string(node, key: key)
        guard let field = reported.first(where: { $0.name == name }) else {
            throw error(node, key, "there is no reported field \"\(name)\"; declare it under reported or name one that is")
        }
        switch field.initialValue {
        case .number, .bool: return name
        default: throw error(node, key, "the reported field \"\(name)\" starts as \(FieldConstraint.kindName(of: field.initialValue)); a metric can only follow a number or a boolean")
        }
    }

    // MARK: - Scalars

    func error(_ node: Node?, _ key: String, _ message: String) -> ProfileError {
        ProfileError(file: file, line: node?.mark?.line, key: key, message: message)
    }

    func mapping(_ node: Node, key: String) throws(ProfileError) -> YAMLMapping {
        guard case .mapping(let mapping) = node else {
            throw error(node, key, "must be a mapping of keys to values, got \(describe(node))")
        }
        var entries: [YAMLMapping.Entry] = []
        for pair in mapping {
            guard case .scalar(let scalar) = pair.key else {
                throw error(pair.key, key, "keys must be plain names, got \(describe(pair.key))")
            }
            entries.append(YAMLMapping.Entry(key: scalar.string, keyNode: pair.key, value: pair.value))
        }
        return YAMLMapping(node: node, path: key, entries: entries)
    }

    func string(_ node: Node, key: String) throws(ProfileError) -> String {
        guard case .scalar(let scalar) = node else {
            throw error(node, key, "must be a text value, got \(describe(node))")
        }
        return scalar.string
    }

    func number(_ node: Node, key: String) throws(ProfileError) -> Double {
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any,
            Self.isDecimalNumber(scalar.string), let value = Double(scalar.string), value.isFinite
        else {
            throw error(node, key, "must be a number, got \(describe(node))")
        }
        return value
    }

    func integer(_ node: Node, key: String, in range: ClosedRange<Int>, meaning: String) throws(ProfileError) -> Int {
        let value = try number(node, key: key)
        guard value == value.rounded(), value >= Double(range.lowerBound), value <= Double(range.upperBound) else {
            throw error(node, key, "must be \(meaning), got \(FieldConstraint.format(value))")
        }
        return Int(value)
    }

    func bool(_ node: Node, key: String) throws(ProfileError) -> Bool {
        if case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any {
            switch scalar.string {
            case "true", "True", "TRUE": return true
            case "false", "False", "FALSE": return false
            default: break
            }
        }
        throw error(node, key, "must be true or false, got \(describe(node))")
    }

    /// A scalar as a twin field value: quoted scalars are strings; plain ones are booleans
    /// (`true`/`false`), null (`null`, `~`, empty), numbers, or else strings.
    func fieldValue(_ node: Node, key: String) throws(ProfileError) -> FieldValue {
        guard case .scalar(let scalar) = node else {
            throw error(node, key, "must be a single value (number, string, true/false or null), got \(describe(node))")
        }
        let text = scalar.string
        guard scalar.style == .plain || scalar.style == .any else { return .string(text) }
        switch text {
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case "null", "Null", "NULL", "~", "": return .null
        default: break
        }
        if Self.isDecimalNumber(text), let number = Double(text) {
            guard number.isFinite else { throw error(node, key, "the number \(text) is too large; use a finite number") }
            return .number(number)
        }
        return .string(text)
    }

    func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any else { return false }
        return ["null", "Null", "NULL", "~", ""].contains(scalar.string)
    }

    private func checkPayloadName(_ name: String, node: Node, key: String, what: String) throws(ProfileError) {
        guard PayloadName.isValid(name) else {
            throw error(node, key, "the \(what) must be 1 to \(PayloadName.maxBytes) bytes long, got \(name.utf8.count) bytes")
        }
    }

    /// The YAML 1.2 core schema's decimal numbers: `-12`, `3.5`, `.5`, `1e3`, `+2.`; not
    /// hex, not `.inf`, not `1_000`.
    static func isDecimalNumber(_ text: String) -> Bool {
        var bytes = Substring(text).utf8[...]
        if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
        func digits(_ bytes: inout Substring.UTF8View.SubSequence) -> Int {
            let count = bytes.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }.count
            bytes = bytes.dropFirst(count)
            return count
        }
        var mantissaDigits = digits(&bytes)
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            mantissaDigits += digits(&bytes)
        }
        guard mantissaDigits > 0 else { return false }
        if let first = bytes.first, first == UInt8(ascii: "e") || first == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if let sign = bytes.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
            guard digits(&bytes) > 0 else { return false }
        }
        return bytes.isEmpty
    }

    func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar):
            let shown = scalar.string.count > 40 ? String(scalar.string.prefix(40)) + "…" : scalar.string
            return scalar.style == .plain || scalar.style == .any ? "`\(shown)`" : "the quoted string \"\(shown)\""
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    // MARK: - YAML parser errors

    static func error(from yamlError: YamlError, file: String) -> ProfileError {
        switch yamlError {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let during = context.map { " (\($0.text))" } ?? ""
            return ProfileError(file: file, line: mark.line, key: "", message: "the file is not valid YAML: \(problem)\(during)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "`\($0)`" }.joined(separator: ", ")
            return ProfileError(
                file: file, line: context.mark.line, key: duplicates.first ?? "",
                message: "the key \(keys) appears more than once in the same mapping; keep one")
        default:
            return ProfileError(file: file, line: nil, key: "", message: "the file is not valid YAML: \(yamlError)")
        }
    }
}

/// A YAML mapping with string keys, in file order, and the path it sits at.
struct YAMLMapping {
    struct Entry {
        var key: String
        var keyNode: Node
        var value: Node
    }

    let node: Node
    let path: String
    let entries: [Entry]

    func optional(_ key: String) -> Node? {
        entries.first { $0.key == key }?.value
    }

    func required(_ key: String, reader: ProfileYAMLReader) throws(ProfileError) -> Node {
        guard let value = optional(key) else {
            throw reader.error(node, qualified(key), "the key is missing; add it")
        }
        return value
    }

    func rejectUnknownKeys(_ known: [String], reader: ProfileYAMLReader) throws(ProfileError) {
        for entry in entries where !known.contains(entry.key) {
            throw reader.error(
                entry.keyNode, qualified(entry.key),
                "unknown key; the keys here are \(known.joined(separator: ", "))")
        }
    }

    private func qualified(_ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }
}
