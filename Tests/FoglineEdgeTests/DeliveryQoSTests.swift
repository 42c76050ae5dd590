@testable import FoglineEdge
import FoglineMQTT
import FoglineWire
import Testing

@Suite("Device subscriptions: delivery QoS")
struct DeliveryQoSTests {
    @Test("telemetry is delivered at QoS 0 (no PUBACK per reading), every other device channel at QoS 1")
    func telemetryAtMostOnce() {
        #expect(EdgeNode.deliveryQoS(of: FoglineTopic.deviceFilter(site: "plant-1", device: nil, channel: .telemetry)) == .atMostOnce)
        #expect(EdgeNode.deliveryQoS(of: FoglineTopic.deviceFilter(site: "plant-1", device: "th-1", channel: .telemetry)) == .atMostOnce)
        for channel: FoglineTopic.DeviceChannel in [.birth, .death, .reported, .cmdAck] {
            #expect(EdgeNode.deliveryQoS(of: FoglineTopic.deviceFilter(site: "plant-1", device: nil, channel: channel)) == .atLeastOnce)
        }
    }
}
