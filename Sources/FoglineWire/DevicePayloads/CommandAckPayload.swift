/// How a device answered a command.
public enum CommandAckStatus: String, CaseIterable, Hashable, Sendable {
    /// The device carried the command out.
    case ok
    /// The device refused the command (for example, its fencing token was stale).
    case rejected
    /// The device tried and failed.
    case failed
}

/// `fogline/v1/{site}/dev/{device}/cmd/ack`, device → edge: the answer to a command.
///
/// ```json
/// {"id":"c-17","status":"ok"}
/// ```
///
/// `id` (required) is the command's id and follows ``PayloadName``; `status` (required) is
/// `ok`, `rejected` or `failed`, anything else is `out_of_range`; `detail` is optional text.
public struct CommandAckPayload: DevicePayload, Equatable {
    public static let kind = "cmd/ack"

    /// The id of the command being answered.
    public let id: String
    /// The outcome.
    public let status: CommandAckStatus
    /// Free text about the outcome, if the device gave any.
    public let detail: String?

    /// A command acknowledgement; throws `out_of_range` for an invalid id.
    public init(id: String, status: CommandAckStatus, detail: String? = nil) throws(PayloadRejection) {
        try PayloadCheck.name(id, kind: Self.kind, field: "id")
        self.id = id
        self.status = status
        self.detail = detail
    }

    public init(json: JSONValue) throws(PayloadRejection) {
        let reader = try PayloadObjectReader(kind: Self.kind, json: json)
        self.id = try reader.requiredName("id")
        let statusText = try reader.requiredString("status")
        guard let status = CommandAckStatus(rawValue: statusText) else {
            throw .outOfRange(
                payload: Self.kind, field: "status",
                requirement: "one of \"ok\", \"rejected\" or \"failed\"", found: PayloadRejection.quoted(statusText)
            )
        }
        self.status = status
        self.detail = try reader.optionalString("detail")
    }

    /// `id`, `status`, `detail` (when given), in that order.
    public var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            (key: "id", value: .string(id)), (key: "status", value: .string(status.rawValue)),
        ]
        if let detail { members.append((key: "detail", value: .string(detail))) }
        return .object(members)
    }
}
