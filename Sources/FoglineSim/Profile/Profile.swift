public import FoglineCore

/// A device profile: what one kind of simulated device sends and how it reacts, as read
/// from `devices/{kind}.yaml`.
///
/// Build one with ``load(path:)`` or ``parse(yaml:file:)``, which check every key and report
/// problems as ``ProfileError``s naming the file, the line and the key. The memberwise
/// initializer does not check anything; ``Simulation`` re-checks what it relies on.
public struct Profile: Sendable, Hashable {
    /// The device kind: the birth's `profile` field and the prefix of device ids
    /// (`thermostat` gives `thermostat-0001`). A valid topic segment.
    public var kind: String
    /// The firmware version announced in the birth (`fw`).
    public var firmware: String
    /// Telemetry messages per second per device, unless the simulation overrides the rate.
    public var rateHz: Double
    /// The MQTT QoS of telemetry (the contract allows 0 or 1).
    public var telemetryQoS: SimQoS
    /// Whether the device answers `replay` requests (the birth's `replay`).
    public var supportsReplay: Bool
    /// How many of its latest telemetry readings the device keeps to answer `replay`.
    /// 0 when ``supportsReplay`` is `false`.
    public var replayBufferSize: Int
    /// The metrics of every telemetry message, in order.
    public var metrics: [MetricSpec]
    /// The twin fields the device reports after each birth, with their initial values.
    public var reported: [ReportedField]
    /// The `desired` fields the device applies to its reported fields; others are ignored.
    public var desired: [DesiredFieldRule]
    /// The commands the device understands; any other command is acked `failed`.
    public var commands: [CommandSpec]

    /// A profile as given, unchecked (see the type's discussion).
    public init(
        kind: String,
        firmware: String,
        rateHz: Double,
        telemetryQoS: SimQoS = .atLeastOnce,
        supportsReplay: Bool,
        replayBufferSize: Int,
        metrics: [MetricSpec],
        reported: [ReportedField] = [],
        desired: [DesiredFieldRule] = [],
        commands: [CommandSpec] = []
    ) {
        self.kind = kind
        self.firmware = firmware
        self.rateHz = rateHz
        self.telemetryQoS = telemetryQoS
        self.supportsReplay = supportsReplay
        self.replayBufferSize = replayBufferSize
        self.metrics = metrics
        self.reported = reported
        self.desired = desired
        self.commands = commands
    }
}

/// A reported twin field and the value a device starts with.
public struct ReportedField: Sendable, Hashable {
    /// The field name, as sent in `reported` payloads.
    public var name: String
    /// The value after a device starts; its type (number, string, boolean) is the type the
    /// field keeps: `desired` values and command arguments of another type are refused.
    public var initialValue: FieldValue

    /// A reported field and its initial value.
    public init(name: String, initialValue: FieldValue) {
        self.name = name
        self.initialValue = initialValue
    }
}
