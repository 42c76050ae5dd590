/// An MQTT message a simulated device publishes (or leaves as its will).
public struct SimMessage: Sendable, Hashable {
    /// The topic, e.g. `fogline/v1/plant-1/dev/thermostat-0001/telemetry`.
    public var topic: String
    /// The payload bytes (UTF-8 JSON, except for some malformed messages).
    public var payload: [UInt8]
    /// The MQTT QoS to publish at.
    public var qos: SimQoS
    /// Whether the broker should retain it (the engine never asks: devices publish nothing retained).
    public var retain: Bool
    /// What the message is, for counting and for tests; not sent.
    public var kind: SimMessageKind

    /// A message; `retain` defaults to `false`.
    public init(topic: String, payload: [UInt8], qos: SimQoS, retain: Bool = false, kind: SimMessageKind) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.kind = kind
    }

    /// The payload as text (lossy for the malformed messages that are not UTF-8).
    public var payloadText: String {
        String(decoding: payload, as: UTF8.self)
    }
}

/// What a simulated device's message is.
public enum SimMessageKind: Sendable, Hashable {
    /// `birth`, after every (re)connection.
    case birth
    /// `reported`, after the birth and after every change.
    case reported
    /// A telemetry reading, sent for the first time: these are what ``DeviceReport/published`` counts.
    case telemetry
    /// The same bytes as the reading just sent, again (the `duplicate` fault).
    case duplicateTelemetry
    /// A reading sent again in answer to a `replay` request, with its original bytes.
    case replayedTelemetry
    /// `cmd/ack`.
    case commandAck
    /// `death`: the will, or the device's own goodbye at the end of the run.
    case death
    /// A bad message (the `malformed` fault).
    case malformed(MalformedVariant)
}
