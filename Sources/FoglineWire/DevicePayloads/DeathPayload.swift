/// `fogline/v1/{site}/dev/{device}/death`, the device's MQTT will: the device is gone.
///
/// ```json
/// {"reason":"lost"}
/// ```
///
/// Any JSON object is accepted; `reason` is kept when it is a string and ignored otherwise,
/// because a will is configured once and may be written by anyone.
public struct DeathPayload: DevicePayload, Equatable {
    public static let kind = "death"

    /// Why the device went away, if it said so.
    public let reason: String?

    /// A death payload.
    public init(reason: String? = nil) {
        self.reason = reason
    }

    public init(json: JSONValue) throws(PayloadRejection) {
        let reader = try PayloadObjectReader(kind: Self.kind, json: json)
        self.reason = reader.optional("reason")?.stringValue
    }

    /// `{"reason":…}`, or `{}` without a reason.
    public var json: JSONValue {
        guard let reason else { return .object([]) }
        return .object([(key: "reason", value: .string(reason))])
    }
}
