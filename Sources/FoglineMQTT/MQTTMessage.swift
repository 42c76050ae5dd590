/// MQTT delivery guarantee of one message or subscription.
public enum MQTTQoS: Int32, Sendable, Hashable, CaseIterable, Comparable, CustomStringConvertible {
    /// QoS 0: fire and forget. Lost if the connection drops.
    case atMostOnce = 0
    /// QoS 1: acknowledged by the broker (PUBACK); may be delivered more than once.
    case atLeastOnce = 1
    /// QoS 2: four-way handshake; delivered once.
    case exactlyOnce = 2

    public static func < (lhs: MQTTQoS, rhs: MQTTQoS) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "QoS \(rawValue)" }
}

/// One MQTT application message, as published or as received.
///
/// The payload is an owned copy: a received message never points into libmosquitto's buffers.
public struct MQTTMessage: Sendable, Hashable, CustomStringConvertible {
    /// The topic name (no wildcards), e.g. `fogline/v1/site-a/dev/pump-1/telemetry`.
    public var topic: String
    /// The payload bytes; may be empty.
    public var payload: [UInt8]
    public var qos: MQTTQoS
    /// On publish: ask the broker to keep this as the topic's retained message.
    /// On receive: the message is a retained one delivered because of a (new) subscription.
    public var retain: Bool

    public init(topic: String, payload: [UInt8] = [], qos: MQTTQoS = .atMostOnce, retain: Bool = false) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }

    /// A message whose payload is the UTF-8 encoding of `text`.
    public init(topic: String, text: String, qos: MQTTQoS = .atMostOnce, retain: Bool = false) {
        self.init(topic: topic, payload: Array(text.utf8), qos: qos, retain: retain)
    }

    /// The payload decoded as UTF-8, or nil when it is not valid UTF-8.
    public var payloadText: String? {
        String(validating: payload, as: UTF8.self)
    }

    public var description: String {
        "MQTTMessage(\(topic), \(payload.count) bytes, \(qos)\(retain ? ", retained" : ""))"
    }
}
