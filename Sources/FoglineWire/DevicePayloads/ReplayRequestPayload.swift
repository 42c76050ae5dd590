/// `fogline/v1/{site}/dev/{device}/replay`, edge → device: resend a telemetry gap.
///
/// ```json
/// {"from":100,"to":140}
/// ```
///
/// Sent only to devices whose birth said `"replay":true`. The range is inclusive: the
/// device resends every reading with `from <= seq <= to` that it still holds. Both bounds
/// are integers from 0 to 2^53, and `from` is at most `to` (else `out_of_range`).
public struct ReplayRequestPayload: DevicePayload, Hashable {
    public static let kind = "replay"

    /// The first missing sequence number.
    public let from: UInt64
    /// The last missing sequence number (inclusive).
    public let to: UInt64

    /// A replay request for `from...to`; throws `out_of_range` if a bound is above 2^53 or
    /// `from > to`.
    public init(from: UInt64, to: UInt64) throws(PayloadRejection) {
        try PayloadCheck.count(from, kind: Self.kind, field: "from")
        try PayloadCheck.count(to, kind: Self.kind, field: "to")
        try Self.checkOrder(from: from, to: to)
        self.from = from
        self.to = to
    }

    public init(json: JSONValue) throws(PayloadRejection) {
        let reader = try PayloadObjectReader(kind: Self.kind, json: json)
        let from = try reader.requiredCount("from")
        let to = try reader.requiredCount("to")
        try Self.checkOrder(from: from, to: to)
        self.from = from
        self.to = to
    }

    private static func checkOrder(from: UInt64, to: UInt64) throws(PayloadRejection) {
        guard from <= to else {
            throw .outOfRange(
                payload: kind, field: "to",
                requirement: "at least `from` (\(from))", found: String(to)
            )
        }
    }

    /// The requested sequence numbers.
    public var range: ClosedRange<UInt64> { from...to }

    /// `{"from":…,"to":…}`.
    public var json: JSONValue {
        .object([(key: "from", value: .number(Double(from))), (key: "to", value: .number(Double(to)))])
    }
}
