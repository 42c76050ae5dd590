/// A parsed JSON value, as produced by ``StrictJSON/parse(_:limits:)``.
///
/// Objects keep their members in the order they appeared on the wire (and in the order
/// given when built by hand), so serializing a value is deterministic. A value that came
/// from the parser never holds a duplicate key or a non-finite number; a value built by
/// hand may, and the payload initializers reject such values before anything is encoded.
public enum JSONValue: Sendable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number. JSON numbers are read as IEEE 754 doubles (RFC 8259 section 6), so
    /// integers are exact up to 2^53 (``JSONValue/maxExactInteger``).
    case number(Double)
    /// A string.
    case string(String)
    /// An array, in order.
    case array([JSONValue])
    /// An object: its members in order. Keys are unique in a parsed value.
    case object([(key: String, value: JSONValue)])

    /// The largest integer a JSON number carries exactly (2^53). Integral fields such as
    /// telemetry `seq` and command `fence` are bounded by it.
    public static let maxExactInteger: Double = 9_007_199_254_740_992
}

// MARK: - Accessors

extension JSONValue {
    /// The members of an object, in order; `nil` for any other value.
    public var objectMembers: [(key: String, value: JSONValue)]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// The elements of an array; `nil` for any other value.
    public var arrayElements: [JSONValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// The string, if this is a string.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The number, if this is a number.
    public var numberValue: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// The Boolean, if this is `true` or `false`.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The number as an integer, if it is integral and its magnitude is at most
    /// ``maxExactInteger`` (so no precision was lost on the wire); `nil` otherwise.
    public var exactIntegerValue: Int64? {
        guard case .number(let value) = self, Self.isIntegral(value), value.magnitude <= Self.maxExactInteger
        else { return nil }
        return Int64(value)
    }

    /// Whether `value` is a finite integer. (Computed without libm's `trunc`, which a
    /// binary that does not link libm could not resolve.)
    static func isIntegral(_ value: Double) -> Bool {
        guard value.isFinite else { return false }
        if value.magnitude >= 0x1p52 { return true }  // no fractional bits left
        return Double(Int64(value)) == value
    }

    /// `true` for `null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The value of the first member named `key`, if this is an object that has one.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        for member in members where member.key == key { return member.value }
        return nil
    }

    /// The element at `index`, if this is an array and `index` is in bounds.
    public subscript(index: Int) -> JSONValue? {
        guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }

    /// What kind of value this is, with an article, for messages: "a string", "an object", "null".
    public var kindDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// How many containers deep this value nests: 0 for a scalar, 1 for `[]` or `{}`,
    /// 2 for `[[]]`, and so on. This is the measure ``JSONLimits/maxDepth`` bounds.
    public var nestingDepth: Int {
        switch self {
        case .null, .bool, .number, .string:
            return 0
        case .array(let elements):
            var deepest = 0
            for element in elements { deepest = max(deepest, element.nestingDepth) }
            return deepest + 1
        case .object(let members):
            var deepest = 0
            for member in members { deepest = max(deepest, member.value.nestingDepth) }
            return deepest + 1
        }
    }
}

// MARK: - Equality

extension JSONValue: Hashable {
    /// Structural equality: objects are equal when they have the same members in the same
    /// order; numbers compare as doubles (so `-0` equals `0`).
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null):
            return true
        case (.bool(let a), .bool(let b)):
            return a == b
        case (.number(let a), .number(let b)):
            return a == b
        case (.string(let a), .string(let b)):
            return a == b
        case (.array(let a), .array(let b)):
            return a == b
        case (.object(let a), .object(let b)):
            return a.elementsEqual(b) { $0.key == $1.key && $0.value == $1.value }
        default:
            return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null:
            hasher.combine(0 as UInt8)
        case .bool(let value):
            hasher.combine(1 as UInt8)
            hasher.combine(value)
        case .number(let value):
            hasher.combine(2 as UInt8)
            hasher.combine(value)
        case .string(let value):
            hasher.combine(3 as UInt8)
            hasher.combine(value)
        case .array(let elements):
            hasher.combine(4 as UInt8)
            hasher.combine(elements)
        case .object(let members):
            hasher.combine(5 as UInt8)
            hasher.combine(members.count)
            for member in members {
                hasher.combine(member.key)
                hasher.combine(member.value)
            }
        }
    }
}

// MARK: - Literals

// Deliberately not ExpressibleByNilLiteral: `nil` must keep meaning "absent" in a
// `JSONValue?`; write `.null` for JSON null.

extension JSONValue: ExpressibleByBooleanLiteral,
    ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// Builds an object whose members keep the literal's order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(elements.map { (key: $0.0, value: $0.1) })
    }
}

extension JSONValue: CustomStringConvertible {
    /// The value's serialized JSON text (see ``serialized()``).
    public var description: String { serializedString() }
}
