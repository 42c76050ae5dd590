/// `fogline/v1/{site}/dev/{device}/telemetry`, device → edge: one reading.
///
/// ```json
/// {"seq":123,"ts":1763800000123,"values":{"temp":21.5,"door_open":true}}
/// ```
///
/// - `seq` (required) is an integer from 0 to 2^53; it strictly increases per device and
///   restarts from 0 after a new birth. Telemetry is deduplicated by `(device, seq)`.
/// - `ts` (optional) is the device's clock in milliseconds since the Unix epoch: data only,
///   never clock input.
/// - `values` (required) maps metric names to numbers; `true`/`false` read as 1/0.
///   Any other value is `wrong_type` naming the metric (`values.temp`).
public struct TelemetryPayload: DevicePayload {
    public static let kind = "telemetry"

    /// The per-device sequence number (`seq`).
    public let seq: UInt64
    /// The device's own timestamp in milliseconds (`ts`), if sent.
    public let deviceTime: Int64?
    /// The readings, in payload order.
    public let values: [(name: String, value: Double)]

    /// A telemetry payload; throws `out_of_range` for `seq` above 2^53, `|ts|` above 2^53,
    /// an invalid metric name or a non-finite value, and `duplicate_key` for a repeated name.
    public init(seq: UInt64, deviceTime: Int64? = nil, values: [(name: String, value: Double)]) throws(PayloadRejection) {
        try PayloadCheck.count(seq, kind: Self.kind, field: "seq")
        if let deviceTime { try PayloadCheck.integer(deviceTime, kind: Self.kind, field: "ts") }
        for reading in values {
            try PayloadCheck.name(reading.name, kind: Self.kind, field: "values.\(reading.name)")
            try PayloadCheck.finite(reading.value, kind: Self.kind, field: "values.\(reading.name)")
        }
        try PayloadCheck.uniqueNames(values.lazy.map(\.name))
        self.init(checkedSeq: seq, deviceTime: deviceTime, values: values)
    }

    private init(checkedSeq: UInt64, deviceTime: Int64?, values: [(name: String, value: Double)]) {
        self.seq = checkedSeq
        self.deviceTime = deviceTime
        self.values = values
    }

    public init(json: JSONValue) throws(PayloadRejection) {
        let reader = try PayloadObjectReader(kind: Self.kind, json: json)
        let seq = try reader.requiredCount("seq")
        let deviceTime = try reader.optionalInteger("ts")
        let members = try reader.requiredObject("values")
        var values: [(name: String, value: Double)] = []
        values.reserveCapacity(members.count)
        for member in members {
            try PayloadCheck.name(member.key, kind: Self.kind, field: "values.\(member.key)")
            switch member.value {
            case .number(let number):
                try PayloadCheck.finite(number, kind: Self.kind, field: "values.\(member.key)")
                values.append((name: member.key, value: number))
            case .bool(let flag):
                values.append((name: member.key, value: flag ? 1 : 0))
            default:
                throw .wrongType(
                    payload: Self.kind, field: "values.\(member.key)",
                    expected: "a number (or a boolean, read as 1 or 0)", found: member.value.kindDescription
                )
            }
        }
        try PayloadCheck.uniqueNames(members.lazy.map(\.key))
        self.init(checkedSeq: seq, deviceTime: deviceTime, values: values)
    }

    /// `seq`, `ts` (when known), `values`, in that order.
    public var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [(key: "seq", value: .number(Double(seq)))]
        if let deviceTime { members.append((key: "ts", value: .number(Double(deviceTime)))) }
        members.append((key: "values", value: .object(values.map { (key: $0.name, value: .number($0.value)) })))
        return .object(members)
    }
}

extension TelemetryPayload: Equatable {
    public static func == (lhs: TelemetryPayload, rhs: TelemetryPayload) -> Bool {
        lhs.seq == rhs.seq && lhs.deviceTime == rhs.deviceTime
            && lhs.values.elementsEqual(rhs.values) { $0.name == $1.name && $0.value == $1.value }
    }
}
