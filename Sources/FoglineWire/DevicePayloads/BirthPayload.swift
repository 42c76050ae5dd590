/// `fogline/v1/{site}/dev/{device}/birth`, device → edge: the device announces itself.
///
/// ```json
/// {"profile":"thermostat","fw":"1.4.2","metrics":{"temp":"C"},"replay":true}
/// ```
///
/// `profile` is required and follows ``PayloadName``; `fw` is optional; `metrics` is an
/// optional object of metric name → unit (units may be empty); `replay` says whether the
/// device can resend a telemetry gap on request and defaults to `false`.
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

    /// A birth payload; throws `out_of_range` for an invalid profile or metric name and
    /// `duplicate_key` for a repeated metric name.
    public init(
        profile: String,
        firmware: String? = nil,
        metrics: [(name: String, unit: String)] = [],
        supportsReplay: Bool = false
    ) throws(PayloadRejection) {
        try PayloadCheck.name(profile, kind: Self.kind, field: "profile")
        for metric in metrics {
            try PayloadCheck.name(metric.name, kind: Self.kind, field: "metrics.\(metric.name)")
        }
        try PayloadCheck.uniqueNames(metrics.lazy.map(\.name))
        self.init(checkedProfile: profile, firmware: firmware, metrics: metrics, supportsReplay: supportsReplay)
    }

    private init(checkedProfile: String, firmware: String?, metrics: [(name: String, unit: String)], supportsReplay: Bool) {
        self.profile = checkedProfile
        self.firmware = firmware
        self.metrics = metrics
        self.supportsReplay = supportsReplay
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
        self.init(checkedProfile: profile, firmware: firmware, metrics: metrics, supportsReplay: supportsReplay)
    }

    /// `profile`, `fw` (when known), `metrics`, `replay`, in that order.
    public var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [(key: "profile", value: .string(profile))]
        if let firmware { members.append((key: "fw", value: .string(firmware))) }
        members.append((key: "metrics", value: .object(metrics.map { (key: $0.name, value: .string($0.unit)) })))
        members.append((key: "replay", value: .bool(supportsReplay)))
        return .object(members)
    }
}

extension BirthPayload: Equatable {
    public static func == (lhs: BirthPayload, rhs: BirthPayload) -> Bool {
        lhs.profile == rhs.profile && lhs.firmware == rhs.firmware && lhs.supportsReplay == rhs.supportsReplay
            && lhs.metrics.elementsEqual(rhs.metrics) { $0.name == $1.name && $0.unit == $1.unit }
    }
}
