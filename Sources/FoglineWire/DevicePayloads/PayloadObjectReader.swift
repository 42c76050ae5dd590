/// Field-by-field reading of a payload object, with rejections that name the payload kind
/// and the field.
struct PayloadObjectReader {
    let kind: String
    let members: [(key: String, value: JSONValue)]

    /// Throws `not_object` unless `json` is an object.
    init(kind: String, json: JSONValue) throws(PayloadRejection) {
        guard case .object(let members) = json else {
            throw .notObject(payload: kind, found: json.kindDescription)
        }
        self.kind = kind
        self.members = members
    }

    /// The value of member `key`, or `nil` if it is absent or `null`.
    func optional(_ key: String) -> JSONValue? {
        for member in members where member.key == key {
            return member.value.isNull ? nil : member.value
        }
        return nil
    }

    /// The value of member `key`; `missing_field` if absent, `wrong_type` if `null`.
    func required(_ key: String, expected: String) throws(PayloadRejection) -> JSONValue {
        for member in members where member.key == key {
            guard !member.value.isNull else {
                throw .wrongType(payload: kind, field: key, expected: expected, found: "null")
            }
            return member.value
        }
        throw .missingField(payload: kind, field: key)
    }

    func requiredString(_ key: String) throws(PayloadRejection) -> String {
        try string(try required(key, expected: "a string"), key)
    }

    func optionalString(_ key: String) throws(PayloadRejection) -> String? {
        guard let value = optional(key) else { return nil }
        return try string(value, key)
    }

    /// A required string that follows ``PayloadName``.
    func requiredName(_ key: String) throws(PayloadRejection) -> String {
        let name = try requiredString(key)
        try PayloadCheck.name(name, kind: kind, field: key)
        return name
    }

    func optionalBool(_ key: String) throws(PayloadRejection) -> Bool? {
        guard let value = optional(key) else { return nil }
        guard case .bool(let flag) = value else {
            throw .wrongType(payload: kind, field: key, expected: "a boolean", found: value.kindDescription)
        }
        return flag
    }

    func requiredObject(_ key: String) throws(PayloadRejection) -> [(key: String, value: JSONValue)] {
        try object(try required(key, expected: "an object"), key)
    }

    func optionalObject(_ key: String) throws(PayloadRejection) -> [(key: String, value: JSONValue)]? {
        guard let value = optional(key) else { return nil }
        return try object(value, key)
    }

    /// A required integral number from 0 to 2^53 (sequence numbers, fencing tokens).
    func requiredCount(_ key: String) throws(PayloadRejection) -> UInt64 {
        let expected = "a non-negative integer"
        let value = try required(key, expected: expected)
        guard case .number(let number) = value else {
            throw .wrongType(payload: kind, field: key, expected: expected, found: value.kindDescription)
        }
        guard JSONValue.isIntegral(number), number >= 0, number <= JSONValue.maxExactInteger else {
            throw .outOfRange(
                payload: kind, field: key,
                requirement: PayloadCheck.countRequirement, found: PayloadCheck.describe(number)
            )
        }
        return UInt64(number)
    }

    /// ``requiredCount(_:)``, or nil when the key is absent or null.
    func optionalCount(_ key: String) throws(PayloadRejection) -> UInt64? {
        optional(key) == nil ? nil : try requiredCount(key)
    }

    /// An optional integral number within ±2^53 (device timestamps).
    func optionalInteger(_ key: String) throws(PayloadRejection) -> Int64? {
        guard let value = optional(key) else { return nil }
        guard case .number(let number) = value else {
            throw .wrongType(payload: kind, field: key, expected: "an integer", found: value.kindDescription)
        }
        guard let integer = value.exactIntegerValue else {
            throw .outOfRange(
                payload: kind, field: key,
                requirement: PayloadCheck.integerRequirement, found: PayloadCheck.describe(number)
            )
        }
        return integer
    }

    private func string(_ value: JSONValue, _ key: String) throws(PayloadRejection) -> String {
        guard case .string(let text) = value else {
            throw .wrongType(payload: kind, field: key, expected: "a string", found: value.kindDescription)
        }
        return text
    }

    private func object(_ value: JSONValue, _ key: String) throws(PayloadRejection) -> [(key: String, value: JSONValue)] {
        guard case .object(let members) = value else {
            throw .wrongType(payload: kind, field: key, expected: "an object", found: value.kindDescription)
        }
        return members
    }
}
