public import FoglineCore

extension JSONValue {
    /// The JSON form of a twin field value.
    public init(_ fieldValue: FieldValue) {
        switch fieldValue {
        case .null: self = .null
        case .bool(let flag): self = .bool(flag)
        case .number(let number): self = .number(number)
        case .string(let text): self = .string(text)
        }
    }

    /// The value as a twin field value, if it is a scalar; `nil` for arrays and objects.
    public var fieldValue: FieldValue? {
        switch self {
        case .null: .null
        case .bool(let flag): .bool(flag)
        case .number(let number): .number(number)
        case .string(let text): .string(text)
        case .array, .object: nil
        }
    }
}
