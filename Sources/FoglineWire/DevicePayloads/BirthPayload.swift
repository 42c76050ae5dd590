/// `fogline/v1/{site}/dev/{device}/birth`, device → edge: the device announces itself.
///
/// ```json
/// {"profile":"thermostat","fw":"1.4.2","metrics":{"temp":"C"},"replay":true}
/// ```
///
/// `profile` is required and follows ``PayloadName``; `fw` is optional; `metrics` is an
/// optional object of metric name → unit (units may be empty); `replay` says whether the
/// device can resend a telemetry gap on request and defaults to `false`.
///
/// `seq` (an extension of the contract, optional, 0 to 2^53, default 0) is the `seq` of the
/// device's next reading. 0 starts a new stream. More says the device reconnected without
/// restarting and its stream goes on: the readings up to `seq - 1` exist, so an edge asks for
/// those it lacks — readings a broker acknowledged to the device and lost when it stopped,
/// which no later reading of the old stream would ever reveal as a gap.
public struct BirthPayload: DevicePayload {
    public static let kind = "birth"

    /// The device profile, e.g. `thermostat` (a file in `devices/`).
    public let profile: String
    /// The firmware version (`fw`), if the device reports one.
    public let firmware: String?
    /// The metrics the device will send in telemetry, with their units, in order.
    public let metrics: [(name: String, unit: String)]
    /// Whether the device answers `replay` requests (`replay`).
    public let supportsReplay: Bool
    /// The `seq` of the device's next reading (`seq`): 0 for a new stream, more when the
    /// birth continues the stream of the device's previous birth.
    public let nextSeq: UInt64

    /// A birth payload; throws `out_of_range` for an invalid profile or metric name or a
    /// `nextSeq` above 2^53, and `duplicate_key` for a repeated metric name.
    public init(
        profile: String,
        firmware: String? = nil,
        metrics: [(name: String, unit: String)] = [],
        supportsReplay: Bool = false,
        nextSeq: UInt64 = 0
    ) throws(PayloadRejection) {
        try PayloadCheck.name(profile, kind: Self.kind, field: "profile")
        for metric in metrics {
            try PayloadCheck.name(metric.name, kind: Self.kind, field: "metrics.\(metric.name)")
        }
        try PayloadCheck.uniqueNames(metrics.lazy.map(\.name))
        try PayloadCheck.count(nextSeq, kind: Self.kind, field: "seq")
        self.init(checkedProfile: profile, firmware: firmware, metrics: metrics, supportsReplay: supportsReplay, nextSeq: nextSeq)
    }

    private init(
        checkedProfile: String, firmware: String?, metrics: [(name: String, unit: String)], supportsReplay: Bool, nextSeq: UInt64
    ) {
        self.profile = checkedProfile
        self.firmware = firmware
        self.metrics = metrics
        self.supportsReplay = supportsReplay
        self.nextSeq = nextSeq
    }

    /// The same birth announcing `nextSeq` as the device's next reading (see ``nextSeq``).
    public func continuing(at nextSeq: UInt64) throws(PayloadRejection) -> BirthPayload {
        try PayloadCheck.count(nextSeq, kind: Self.kind, field: "seq")
        return BirthPayload(checkedProfile: profile, firmware: firmware, metrics: metrics, supportsReplay: supportsReplay, nextSeq: nextSeq)
    }

    public init(json: JSONValue) throws(PayloadRejection) {
        let reader = try PayloadObjectReader(kind: Self.kind, json: json)
        let profile = try reader.requiredName("profile")
        let firmware = try reader.optionalString("fw")
        var metrics: [(name: String, unit: String)] = []
        if let members = try reader.optionalObject("metrics") {
            metrics.reserveCapacity(members.count)
            for member in members {
                try PayloadCheck.name(member.key, kind: Self.kind, field: "metrics.\(member.key)")
                guard case .string(let unit) = member.value else {
                    throw .wrongType(
                        payload: Self.kind, field: "metrics.\(member.key)",
                        expected: "a unit string (\"\" for none)", found: member.value.kindDescription
                    )
                }
                metrics.append((name: member.key, unit: unit))
            }
            try PayloadCheck.uniqueNames(members.lazy.map(\.key))
        }
        let supportsReplay = try reader.optionalBool("replay") ?? false
        let nextSeq = try reader.optionalCount("seq") ?? 0
        self.init(checkedProfile: profile, firmware: firmware, metrics: metrics, supportsReplay: supportsReplay, nextSeq: nextSeq)
    }

    /// `profile`, `fw` (when known), `metrics`, `replay`, and `seq` when it is not 0, in that order.
    public var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [(key: "profile", value: .string(profile))]
        if let firmware { members.append((key: "fw", value: .string(firmware))) }
        members.append((key: "metrics", value: .object(metrics.map { (key: $0.name, value: .string($0.unit)) })))
        members.append((key: "replay", value: .bool(supportsReplay)))
        if nextSeq > 0 { members.append((key: "seq", value: .number(Double(nextSeq)))) }
        return .object(members)
    }
}

extension BirthPayload: Equatable {
    public static func == (lhs: BirthPayload, rhs: BirthPayload) -> Bool {
        lhs.profile == rhs.profile && lhs.firmware == rhs.firmware && lhs.supportsReplay == rhs.supportsReplay && lhs.nextSeq == rhs.nextSeq
            && lhs.metrics.elementsEqual(rhs.metrics) { $0.name == $1.name && $0.unit == $1.unit }
    }
}
