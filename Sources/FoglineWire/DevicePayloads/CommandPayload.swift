/// `fogline/v1/{site}/dev/{device}/cmd`, edge → device: run a command.
///
/// ```json
/// {"id":"c-17","name":"open_valve","args":{"percent":40},"fence":42}
/// ```
///
/// `id` and `name` follow ``PayloadName``; `args` is any JSON object (required; `{}` for
/// none); `fence` is the fencing token of the owner's device lease, an integer from 0 to
/// 2^53. A device rejects a command whose `fence` is lower than the highest it has seen.
public struct CommandPayload: DevicePayload, Hashable {
    public static let kind = "cmd"

    /// The command id; the device's `cmd/ack` carries it back.
    public let id: String
    /// What to do, e.g. `open_valve`.
    public let name: String
    /// The command's arguments: always a JSON object.
    public let args: JSONValue
    /// The fencing token of the lease under which the command was issued.
    public let fence: UInt64

    /// A command. Throws `out_of_range` for an invalid id or name, a `fence` above 2^53,
    /// `args` nested so deep that the command would exceed the default depth limit, or a
    /// non-finite number in `args`; `wrong_type` if `args` is not an object; and
    /// `duplicate_key` if an object in `args` repeats a key.
    public init(id: String, name: String, args: JSONValue = .object([]), fence: UInt64) throws(PayloadRejection) {
        try PayloadCheck.name(id, kind: Self.kind, field: "id")
        try PayloadCheck.name(name, kind: Self.kind, field: "name")
        try Self.checkArgs(args, maxDepth: JSONLimits.defaultMaxDepth - 1)
        try PayloadCheck.count(fence, kind: Self.kind, field: "fence")
        self.id = id
        self.name = name
        self.args = args
        self.fence = fence
    }

    public init(json: JSONValue) throws(PayloadRejection) {
        let reader = try PayloadObjectReader(kind: Self.kind, json: json)
        self.id = try reader.requiredName("id")
        self.name = try reader.requiredName("name")
        let args = try reader.required("args", expected: "an object")
        try Self.checkArgs(args, maxDepth: nil)
        self.args = args
        self.fence = try reader.requiredCount("fence")
    }

    private static func checkArgs(_ args: JSONValue, maxDepth: Int?) throws(PayloadRejection) {
        guard case .object = args else {
            throw .wrongType(payload: kind, field: "args", expected: "an object", found: args.kindDescription)
        }
        try PayloadCheck.embedded(args, kind: kind, field: "args", maxDepth: maxDepth)
    }

    /// `id`, `name`, `args`, `fence`, in that order.
    public var json: JSONValue {
        .object([
            (key: "id", value: .string(id)),
            (key: "name", value: .string(name)),
            (key: "args", value: args),
            (key: "fence", value: .number(Double(fence))),
        ])
    }
}
