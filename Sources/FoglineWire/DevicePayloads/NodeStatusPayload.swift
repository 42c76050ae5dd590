/// `fogline/v1/{site}/node/{node}/status`, edge → all, retained, and the node's will.
///
/// ```json
/// {"state":"online","clock":"trusted"}
/// ```
///
/// `state` (required) follows ``PayloadName`` (the edge publishes `online`, and `offline`
/// as its will); every other member is kept, in order, in ``extra``.
public struct NodeStatusPayload: DevicePayload, Equatable {
    public static let kind = "status"

    /// The node's state, e.g. `online` or `offline`.
    public let state: String
    /// The other members, in order (e.g. `clock`, `version`).
    public let extra: [(key: String, value: JSONValue)]

    /// A status payload. Throws `out_of_range` for an invalid state, a non-finite number
    /// or nesting that would exceed the default depth limit; `duplicate_key` if `extra`
    /// repeats a key or contains `state`.
    public init(state: String, extra: [(key: String, value: JSONValue)] = []) throws(PayloadRejection) {
        try PayloadCheck.name(state, kind: Self.kind, field: "state")
        let object = JSONValue.object([(key: "state", value: .string(state))] + extra)
        try PayloadCheck.embedded(object, kind: Self.kind, field: "", maxDepth: JSONLimits.defaultMaxDepth)
        self.state = state
        self.extra = extra
    }

    public init(json: JSONValue) throws(PayloadRejection) {
        let reader = try PayloadObjectReader(kind: Self.kind, json: json)
        let state = try reader.requiredName("state")
        try PayloadCheck.embedded(json, kind: Self.kind, field: "", maxDepth: nil)
        self.state = state
        self.extra = reader.members.filter { $0.key != "state" }
    }

    /// `state` first, then ``extra`` in order.
    public var json: JSONValue {
        .object([(key: "state", value: .string(state))] + extra)
    }

    public static func == (lhs: NodeStatusPayload, rhs: NodeStatusPayload) -> Bool {
        lhs.state == rhs.state && lhs.extra.elementsEqual(rhs.extra) { $0.key == $1.key && $0.value == $1.value }
    }
}
