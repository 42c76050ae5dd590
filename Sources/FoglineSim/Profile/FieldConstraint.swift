public import FoglineCore

/// Limits on a value a device is asked to take: from `desired` or from a command argument.
public struct FieldConstraint: Sendable, Hashable {
    /// The smallest number accepted, if any.
    public var minimum: Double?
    /// The largest number accepted, if any.
    public var maximum: Double?
    /// The strings accepted, if limited (`one_of`).
    public var allowedStrings: [String]?

    /// A constraint; no arguments accepts any value of the field's type.
    public init(minimum: Double? = nil, maximum: Double? = nil, allowedStrings: [String]? = nil) {
        self.minimum = minimum
        self.maximum = maximum
        self.allowedStrings = allowedStrings
    }

    /// Why `value` is not acceptable for a field whose current value is `current`, as a
    /// phrase ("must be a number", "must be at most 35"), or `nil` if it is acceptable.
    /// The value must have the type of `current` (any type if `current` is `null`).
    public func problem(with value: FieldValue, current: FieldValue) -> String? {
        switch (current, value) {
        case (.number, .number(let number)):
            if let minimum, number < minimum { return "must be at least \(Self.format(minimum)), got \(Self.format(number))" }
            if let maximum, number > maximum { return "must be at most \(Self.format(maximum)), got \(Self.format(number))" }
            return nil
        case (.string, .string(let text)):
            if let allowedStrings, !allowedStrings.contains(text) {
                return "must be one of \(allowedStrings.map { "\"\($0)\"" }.joined(separator: ", ")), got \"\(text)\""
            }
            return nil
        case (.bool, .bool), (.null, _):
            return nil
        default:
            return "must be \(Self.kindName(of: current)), got \(Self.kindName(of: value))"
        }
    }

    static func kindName(of value: FieldValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        }
    }

    /// `40` rather than `40.0` in messages.
    static func format(_ number: Double) -> String {
        if number == number.rounded(), number.magnitude < 1e15 { return String(Int64(number)) }
        return String(number)
    }
}
