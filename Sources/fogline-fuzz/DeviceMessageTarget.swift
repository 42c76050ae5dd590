import FoglineEdge
import FoglineWire

/// Device MQTT messages as an edge node receives them. The input is a sequence of messages
/// separated by NUL bytes (which JSON text cannot contain unescaped). A message's first byte
/// picks its topic (channel and one of four devices; 0xFF: the rest is the topic itself, with an
/// empty payload), the rest is the payload. Each payload also goes through every payload kind's
/// decoder on its own. A fresh device plane per input keeps inputs independent.
enum DeviceMessageTarget {
    static let channels: [FoglineTopic.DeviceChannel] = [.birth, .telemetry, .reported, .cmdAck, .death, .desired]

    static func run(_ input: UnsafeRawBufferPointer) {
        var plane = DevicePlane(
            configuration: DevicePlane.Configuration(site: "plant-1", node: "edge-a"), persistedClockBound: nil,
            at: DevicePlane.Moment(wallMilliseconds: 1_763_800_000_000, monotonicMilliseconds: 0))
        var clock: UInt64 = 0
        for message in input.split(separator: 0, omittingEmptySubsequences: true) {
            let selector = message[message.startIndex]
            let payload = Array(message.dropFirst())
            let topic: String
            if selector == 0xFF {
                topic = String(decoding: payload, as: UTF8.self)
            } else {
                let channel = channels[Int(selector) % channels.count]
                topic = FoglineTopic.device(site: "plant-1", device: "d\(Int(selector) / channels.count % 4)", channel).string
            }
            for channel in FoglineTopic.DeviceChannel.allCases {
                _ = try? channel.payloadType.decode(payload)
            }
            clock += UInt64(selector) * 97
            _ = plane.receive(
                topic: topic, payload: selector == 0xFF ? [] : payload,
                at: DevicePlane.Moment(wallMilliseconds: 1_763_800_000_000 + clock, monotonicMilliseconds: clock))
        }
    }
}
