public import FoglineCore

/// `fogline/v1/{site}/dev/{device}/desired`, edge → device, retained: the merged desired
/// state of the device's twin.
///
/// ```json
/// {"fields":{"setpoint":22.5},"hlc":"…"}
/// ```
///
/// `fields` follows the same rules as ``ReportedPayload``; `hlc` is the hybrid logical
/// clock timestamp of the merged state, in its text form, and follows ``PayloadName``.
public struct DesiredPayload: DevicePayload {
    public static let kind = "desired"

    /// The desired fields, in order.
    public let fields: [(name: String, value: FieldValue)]
    /// The HLC timestamp of the merged desired state, as text.
    public let hlc: String

    /// A desired payload; throws `out_of_range` for an invalid name, non-finite number or
    /// empty `hlc`, and `duplicate_key` for a repeated name.
    public init(fields: [(name: String, value: FieldValue)], hlc: String) throws(PayloadRejection) {
        try PayloadCheck.fields(fields, kind: Self.kind, path: "fields")
        try PayloadCheck.name(hlc, kind: Self.kind, field: "hlc")
        self.fields = fields
        self.hlc = hlc
    }

    public init(json: JSONValue) throws(PayloadRejection) {
        let reader = try PayloadObjectReader(kind: Self.kind, json: json)
        self.fields = try PayloadCheck.fields(try reader.requiredObject("fields"), kind: Self.kind, path: "fields")
        self.hlc = try reader.requiredName("hlc")
    }

    /// `{"fields":{…},"hlc":"…"}`.
    public var json: JSONValue {
        .object([(key: "fields", value: PayloadCheck.json(of: fields)), (key: "hlc", value: .string(hlc))])
    }
}

extension DesiredPayload: Equatable {
    public static func == (lhs: DesiredPayload, rhs: DesiredPayload) -> Bool {
        lhs.hlc == rhs.hlc && lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }
}
