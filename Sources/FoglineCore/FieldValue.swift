/// A scalar value of a twin field (`reported`, `desired`) or registry attribute.
///
/// Device payloads are JSON; a twin field holds one JSON scalar. Objects and arrays are not
/// field values: a device that needs structure names its fields (`"pump.speed"`).
public enum FieldValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
}

extension FieldValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .null: "null"
        case .bool(let value): value ? "true" : "false"
        case .number(let value): value.description
        case .string(let value): "\"\(value)\""
        }
    }
}
