import FoglineCore

/// The checks shared by every payload's decoder and validating initializer, so that what
/// an initializer accepts is exactly what the decoder accepts.
enum PayloadCheck {
    /// The largest integer a JSON number carries exactly, as an integer.
    static let maxExactInteger: UInt64 = 1 << 53

    static let countRequirement = "an integer from 0 to 9007199254740992 (2^53)"
    static let integerRequirement = "an integer from -9007199254740992 to 9007199254740992 (±2^53)"
    static let finiteRequirement = "a finite number"

    /// Throws `out_of_range` unless `name` follows ``PayloadName``.
    static func name(_ name: String, kind: String, field: @autoclosure () -> String) throws(PayloadRejection) {
        guard PayloadName.isValid(name) else {
            throw .outOfRange(
                payload: kind, field: field(),
                requirement: PayloadName.requirement, found: PayloadName.describeInvalid(name)
            )
        }
    }

    /// Throws `out_of_range` unless `value` fits a JSON number exactly (at most 2^53).
    static func count(_ value: UInt64, kind: String, field: @autoclosure () -> String) throws(PayloadRejection) {
        guard value <= maxExactInteger else {
            throw .outOfRange(payload: kind, field: field(), requirement: countRequirement, found: String(value))
        }
    }

    /// Throws `out_of_range` unless `|value|` is at most 2^53.
    static func integer(_ value: Int64, kind: String, field: @autoclosure () -> String) throws(PayloadRejection) {
        guard value.magnitude <= maxExactInteger else {
            throw .outOfRange(payload: kind, field: field(), requirement: integerRequirement, found: String(value))
        }
    }

    /// Throws `out_of_range` for NaN and infinities, which JSON cannot carry.
    static func finite(_ value: Double, kind: String, field: @autoclosure () -> String) throws(PayloadRejection) {
        guard value.isFinite else {
            throw .outOfRange(payload: kind, field: field(), requirement: finiteRequirement, found: "\(value)")
        }
    }

    /// Throws `duplicate_key` if two of `names` are equal. Parsed objects never repeat a
    /// key; this catches values built in code.
    static func uniqueNames(_ names: some Collection<String>) throws(PayloadRejection) {
        if names.count <= 16 {
            var index = names.startIndex
            while index != names.endIndex {
                let name = names[index]
                names.formIndex(after: &index)
                if names[index...].contains(name) { throw .duplicateKey(key: name, offset: nil) }
            }
        } else {
            var seen = Set<String>(minimumCapacity: names.count)
            for name in names where !seen.insert(name).inserted {
                throw .duplicateKey(key: name, offset: nil)
            }
        }
    }

    /// Checks a JSON value that a payload carries through (command `args`, node status
    /// fields): no repeated keys and no non-finite numbers at any level, and, when
    /// `maxDepth` is given, no deeper nesting than that. `field` is the value's path.
    static func embedded(_ value: JSONValue, kind: String, field: String, maxDepth: Int?) throws(PayloadRejection) {
        if let maxDepth, value.nestingDepth > maxDepth {
            throw .outOfRange(
                payload: kind, field: field,
                requirement: "JSON nested at most \(maxDepth) levels deep", found: "\(value.nestingDepth) levels"
            )
        }
        do {
            try embeddedContents(value, kind: kind)
        } catch {
            throw error.prefixingField(field)
        }
    }

    /// ``embedded(_:kind:field:maxDepth:)`` without the depth check, reporting paths
    /// relative to `value`; paths are only built on the way out of a rejection.
    private static func embeddedContents(_ value: JSONValue, kind: String) throws(PayloadRejection) {
        switch value {
        case .null, .bool, .string:
            return
        case .number(let number):
            try finite(number, kind: kind, field: "")
        case .array(let elements):
            for (index, element) in elements.enumerated() {
                do {
                    try embeddedContents(element, kind: kind)
                } catch {
                    throw error.prefixingField("[\(index)]")
                }
            }
        case .object(let members):
            try uniqueNames(members.lazy.map(\.key))
            for member in members {
                do {
                    try embeddedContents(member.value, kind: kind)
                } catch {
                    throw error.prefixingField(member.key)
                }
            }
        }
    }

    /// A twin field value from JSON: any scalar; objects and arrays are `wrong_type`.
    static func fieldValue(_ value: JSONValue, kind: String, field: @autoclosure () -> String) throws(PayloadRejection) -> FieldValue {
        switch value {
        case .null: return .null
        case .bool(let flag): return .bool(flag)
        case .number(let number):
            try finite(number, kind: kind, field: field())
            return .number(number)
        case .string(let text): return .string(text)
        case .array, .object:
            throw .wrongType(
                payload: kind, field: field(),
                expected: "a JSON scalar (string, number, boolean or null)", found: value.kindDescription
            )
        }
    }

    /// Checks twin fields given in code: valid unique names, finite numbers.
    static func fields(_ fields: [(name: String, value: FieldValue)], kind: String, path: String) throws(PayloadRejection) {
        for field in fields {
            try name(field.name, kind: kind, field: "\(path).\(field.name)")
            if case .number(let number) = field.value {
                try finite(number, kind: kind, field: "\(path).\(field.name)")
            }
        }
        try uniqueNames(fields.lazy.map(\.name))
    }

    /// Reads an object of twin fields (`reported`/`desired` `fields`).
    static func fields(_ members: [(key: String, value: JSONValue)], kind: String, path: String) throws(PayloadRejection) -> [(name: String, value: FieldValue)] {
        var fields: [(name: String, value: FieldValue)] = []
        fields.reserveCapacity(members.count)
        for member in members {
            try name(member.key, kind: kind, field: "\(path).\(member.key)")
            fields.append((name: member.key, value: try fieldValue(member.value, kind: kind, field: "\(path).\(member.key)")))
        }
        try uniqueNames(members.lazy.map(\.key))
        return fields
    }

    /// Twin fields as a JSON object.
    static func json(of fields: [(name: String, value: FieldValue)]) -> JSONValue {
        .object(fields.map { (key: $0.name, value: JSONValue($0.value)) })
    }

    /// A number as it appears in messages.
    static func describe(_ number: Double) -> String {
        var bytes: [UInt8] = []
        JSONSerialization.appendNumber(number, to: &bytes)
        return number.isFinite ? String(decoding: bytes, as: UTF8.self) : "\(number)"
    }
}

extension PayloadRejection {
    /// The rejection with `prefix` put in front of the field path it names, if it names one.
    /// A prefix of `[3]` or a path that starts with `[` joins without a dot.
    func prefixingField(_ prefix: String) -> PayloadRejection {
        func join(_ field: String) -> String {
            if prefix.isEmpty { return field }
            if field.isEmpty { return prefix }
            return field.hasPrefix("[") ? prefix + field : prefix + "." + field
        }
        switch self {
        case .outOfRange(let payload, let field, let requirement, let found):
            return .outOfRange(payload: payload, field: join(field), requirement: requirement, found: found)
        case .wrongType(let payload, let field, let expected, let found):
            return .wrongType(payload: payload, field: join(field), expected: expected, found: found)
        case .missingField(let payload, let field):
            return .missingField(payload: payload, field: join(field))
        default:
            return self
        }
    }
}
