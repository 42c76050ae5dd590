public import FoglineCore

/// `fogline/v1/{site}/dev/{device}/reported`, device → edge: the device's own view of its
/// twin fields.
///
/// ```json
/// {"fields":{"setpoint":21.0,"mode":"heat"}}
/// ```
///
/// `fields` (required) maps field names to JSON scalars; an object or array value is
/// `wrong_type` naming the field (`fields.mode`). Name structure with dots instead.
public struct ReportedPayload: DevicePayload {
    public static let kind = "reported"

    /// The reported fields, in payload order.
    public let fields: [(name: String, value: FieldValue)]

    /// A reported payload; throws `out_of_range` for an invalid name or non-finite number
    /// and `duplicate_key` for a repeated name.
    public init(fields: [(name: String, value: FieldValue)]) throws(PayloadRejection) {
        try PayloadCheck.fields(fields, kind: Self.kind, path: "fields")
        self.fields = fields
    }

    public init(json: JSONValue) throws(PayloadRejection) {
        let reader = try PayloadObjectReader(kind: Self.kind, json: json)
        self.fields = try PayloadCheck.fields(try reader.requiredObject("fields"), kind: Self.kind, path: "fields")
    }

    /// `{"fields":{…}}`.
    public var json: JSONValue {
        .object([(key: "fields", value: PayloadCheck.json(of: fields))])
    }
}

extension ReportedPayload: Equatable {
    public static func == (lhs: ReportedPayload, rhs: ReportedPayload) -> Bool {
        lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }
}
