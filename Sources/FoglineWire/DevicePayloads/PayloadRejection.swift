/// Why a device payload or an MQTT topic was rejected.
///
/// Every case has a stable ``reason`` that is used as the label of
/// `fogline_rejected_messages_total{reason=…}`, and a ``description`` that reads as a
/// sentence saying what is wrong and what to do. Payload byte offsets count from 0.
public enum PayloadRejection: Error, Hashable, Sendable {
    /// The payload is larger than ``JSONLimits/maxBytes``. Reason `oversized`.
    case oversized(byteCount: Int, limit: Int)
    /// The payload is not valid UTF-8 (overlong form, encoded surrogate, code point above
    /// U+10FFFF, stray or truncated sequence) at `offset`. Reason `invalid_utf8`.
    case invalidUTF8(offset: Int)
    /// The payload is not JSON per RFC 8259; `problem` says what was found at `offset`.
    /// Reason `invalid_json`.
    case invalidJSON(offset: Int, problem: String)
    /// An object repeats `key` (compared after unescaping); `offset` is where the repeat
    /// starts in the payload, or `nil` when a value built in code repeats a name.
    /// Reason `duplicate_key`.
    case duplicateKey(key: String, offset: Int?)
    /// Arrays and objects nest deeper than `limit`; `offset` is the container that went
    /// one level too deep. Reason `too_deep`.
    case tooDeep(limit: Int, offset: Int)
    /// The payload of kind `payload` ("telemetry", "birth", …) is JSON but not an object;
    /// `found` says what it is ("an array"). Reason `not_object`.
    case notObject(payload: String, found: String)
    /// The field at `field` (a dotted path such as `values.temp`) has the wrong JSON type.
    /// Reason `wrong_type`.
    case wrongType(payload: String, field: String, expected: String, found: String)
    /// A required field is absent. Reason `missing_field`.
    case missingField(payload: String, field: String)
    /// A value has the right type but is outside what Fogline accepts: a negative or
    /// fractional `seq`, an unknown ack status, an empty or over-long name, or a number
    /// beyond the range of a double (`1e400`). `field` is the path to the value (empty
    /// for the top-level value); `payload` is "JSON" when the bare parser rejected it.
    /// Reason `out_of_range`.
    case outOfRange(payload: String, field: String, requirement: String, found: String)
    /// The topic has a malformed segment, or names a site other than this node's.
    /// Reason `invalid_topic`.
    case invalidTopic(topic: String, problem: String)
    /// The topic is well formed but is not one of the Fogline topics. Reason `unknown_topic`.
    case unknownTopic(topic: String)

    /// Every reason label, in declaration order, so metrics can pre-register them all.
    public static let allReasons: [String] = [
        "oversized", "invalid_utf8", "invalid_json", "duplicate_key", "too_deep",
        "not_object", "wrong_type", "missing_field", "out_of_range", "invalid_topic",
        "unknown_topic",
    ]

    /// The stable metric label for this rejection (one of ``allReasons``).
    public var reason: String {
        switch self {
        case .oversized: "oversized"
        case .invalidUTF8: "invalid_utf8"
        case .invalidJSON: "invalid_json"
        case .duplicateKey: "duplicate_key"
        case .tooDeep: "too_deep"
        case .notObject: "not_object"
        case .wrongType: "wrong_type"
        case .missingField: "missing_field"
        case .outOfRange: "out_of_range"
        case .invalidTopic: "invalid_topic"
        case .unknownTopic: "unknown_topic"
        }
    }
}

extension PayloadRejection: CustomStringConvertible {
    /// A sentence saying what is wrong and what to do. Text taken from the payload or the
    /// topic is quoted, escaped and shortened, so the message is safe to log.
    public var description: String {
        switch self {
        case .oversized(let byteCount, let limit):
            return "payload is \(byteCount) bytes, more than the limit of \(limit) bytes; "
                + "send smaller messages (split the values) or raise the payload limit in the site config"
        case .invalidUTF8(let offset):
            return "payload is not valid UTF-8 at byte \(offset); devices must send JSON encoded as UTF-8"
        case .invalidJSON(let offset, let problem):
            return "payload is not valid JSON at byte \(offset): \(problem); fix the device's JSON encoder"
        case .duplicateKey(let key, let offset?):
            return "payload repeats the object key \(Self.quoted(key)) at byte \(offset); send each key once per object"
        case .duplicateKey(let key, nil):
            return "payload repeats the name \(Self.quoted(key)); give each field, metric or key once per object"
        case .tooDeep(let limit, let offset):
            return "payload nests arrays and objects more than \(limit) levels deep at byte \(offset); "
                + "send a flatter payload"
        case .notObject(let payload, let found):
            return "\(payload) payload must be a JSON object, got \(found)"
        case .wrongType(let payload, let field, let expected, let found):
            return "\(payload) field `\(Self.shortened(field))` must be \(expected), got \(found)"
        case .missingField(let payload, let field):
            return "\(payload) payload is missing the required field `\(Self.shortened(field))`; add it"
        case .outOfRange(let payload, let field, let requirement, let found):
            if field.isEmpty { return "\(payload) value must be \(requirement), got \(found)" }
            return "\(payload) field `\(Self.shortened(field))` must be \(requirement), got \(found)"
        case .invalidTopic(let topic, let problem):
            return "topic \(Self.quoted(topic)) is not a valid Fogline topic: \(problem)"
        case .unknownTopic(let topic):
            return "topic \(Self.quoted(topic)) is not a Fogline topic; use fogline/v1/{site}/dev/{device}/"
                + "{birth|death|telemetry|reported|desired|cmd|cmd/ack|replay}, "
                + "fogline/v1/{site}/node/{node}/status or fogline/v1/sync/{site}/{node}/{up|down}"
        }
    }

    /// The longest piece of foreign text a description shows.
    static let maxQuotedLength = 64

    /// `text` as an escaped JSON string literal, cut to ``maxQuotedLength`` characters.
    static func quoted(_ text: String) -> String {
        JSONValue.string(truncated(text)).serializedString()
    }

    /// `text` cut to ``maxQuotedLength`` characters, with control characters escaped so
    /// that a log line stays one line.
    static func shortened(_ text: String) -> String {
        var result = ""
        for scalar in truncated(text).unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                result += scalar.escaped(asASCII: true)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// `text` cut to ``maxQuotedLength`` Unicode scalars, with an ellipsis when cut.
    static func truncated(_ text: String) -> String {
        var result = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count == maxQuotedLength {
                result += "…"
                break
            }
            result.unicodeScalars.append(scalar)
            count += 1
        }
        return result
    }
}
