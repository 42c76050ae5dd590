/// A JSON payload of the site broker's MQTT contract (see DESIGN.md, "MQTT contract with
/// devices"): decoded strictly, encoded deterministically.
///
/// Decoding parses with ``StrictJSON`` and then checks the fields of the payload's kind.
/// Unknown fields are ignored. An optional field that is `null` counts as absent; a
/// required field that is `null` is `wrong_type`. Encoding writes fields in a fixed order
/// with no whitespace, so equal payloads are equal bytes, and every encoded payload decodes
/// back to an equal one (the initializers reject anything that would not).
public protocol DevicePayload: Sendable {
    /// The payload's kind as used in messages and topics: "birth", "telemetry", "cmd/ack", …
    static var kind: String { get }

    /// Reads the payload from an already parsed JSON value.
    init(json: JSONValue) throws(PayloadRejection)

    /// The payload as a JSON object, fields in encoding order.
    var json: JSONValue { get }
}

extension DevicePayload {
    /// Parses and checks a payload from the raw bytes of an MQTT message.
    public static func decode(
        _ bytes: some Collection<UInt8>,
        limits: JSONLimits = .default
    ) throws(PayloadRejection) -> Self {
        let value: JSONValue
        do {
            value = try StrictJSON.parse(bytes, limits: limits)
        } catch .outOfRange(_, let field, let requirement, let found) {
            // Name the payload kind instead of the bare parser's "JSON".
            throw .outOfRange(payload: kind, field: field, requirement: requirement, found: found)
        }
        return try Self(json: value)
    }

    /// Parses and checks a payload from JSON text.
    public static func decode(_ text: String, limits: JSONLimits = .default) throws(PayloadRejection) -> Self {
        try decode(text.utf8, limits: limits)
    }

    /// The payload as compact JSON bytes, ready to publish.
    public func encoded() -> [UInt8] {
        json.serialized()
    }

    /// The payload as compact JSON text; the same bytes as ``encoded()``.
    public func encodedString() -> String {
        json.serializedString()
    }
}
