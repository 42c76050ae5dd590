import FoglineMQTT
import FoglineTesting
import Testing

@Suite("MQTTClient publish and subscribe against a real broker")
struct MQTTClientRoundTripTests {
    @Test("payload bytes arrive intact at every QoS, from empty to 256 KiB", arguments: MQTTQoS.allCases)
    func roundTrip(qos: MQTTQoS) async throws {
        let broker = try await startBroker()
        let topic = uniqueTopic("round-trip")
        let subscriber = try await connectedClient(fastConfiguration(broker), label: "subscriber")
        let received = Collector(subscriber.messages)
        try await subscriber.subscribe(topic, qos: qos)
        let publisher = try await connectedClient(fastConfiguration(broker), label: "publisher")

        var random = SeededRandom(seed: 42)
        let payloads: [[UInt8]] = [[], [0], [0, 1, 2, 0xFF, 0, 0x80], random.bytes(count: 256 * 1024)]
        for payload in payloads {
            try await publisher.publish(MQTTMessage(topic: topic, payload: payload, qos: qos))
        }

        let messages = try await received.waitForCount(payloads.count)
        #expect(messages.map(\.payload) == payloads)
        #expect(messages.allSatisfy { $0.topic == topic && $0.qos == qos && !$0.retain })
        #expect(subscriber.statistics.messagesReceived == payloads.count)
        #expect(subscriber.statistics.messagesDropped == 0)
        await publisher.disconnect()
        await subscriber.disconnect()
    }

    @Test("a retained message reaches a subscriber that arrives later")
    func retainedMessage() async throws {
        let broker = try await startBroker()
        let topic = uniqueTopic("retained")
        let publisher = try await connectedClient(fastConfiguration(broker), label: "publisher")
        try await publisher.publish(MQTTMessage(topic: topic, text: #"{"fields":{"setpoint":21.0}}"#, qos: .atLeastOnce, retain: true))
        await publisher.disconnect()

        let late = try await connectedClient(fastConfiguration(broker), label: "late")
        let received = Collector(late.messages)
        try await late.subscribe(topic, qos: .atLeastOnce)
        let message = try await received.waitFor("the retained message") { $0.topic == topic }
        #expect(message.retain)
        #expect(message.payloadText == #"{"fields":{"setpoint":21.0}}"#)
        await late.disconnect()
    }

    @Test("QoS 1 publishes return after the broker's acknowledgement and are counted")
    func acknowledgedPublishesAreCounted() async throws {
        let broker = try await startBroker()
        let client = try await connectedClient(fastConfiguration(broker))
        for index in 0..<5 {
            try await client.publish(MQTTMessage(topic: uniqueTopic("ack"), text: "\(index)", qos: .atLeastOnce))
        }
        // No polling: each publish returned only after its PUBACK was handled.
        #expect(client.statistics.publishesAcknowledged == 5)
        #expect(client.statistics.messagesPublished == 5)
        #expect(client.statistics.publishesFailed == 0)
        try await client.publish(MQTTMessage(topic: uniqueTopic("ack"), text: "qos0"))
        #expect(client.statistics.publishesAcknowledged == 5)
        #expect(client.statistics.messagesPublished == 6)
        await client.disconnect()
    }

    @Test("MQTT 5 connects, round-trips and unsubscribes")
    func mqtt5() async throws {
        let broker = try await startBroker()
        var configuration = fastConfiguration(broker)
        configuration.protocolVersion = .v5
        let client = try await connectedClient(configuration, label: "v5")
        let received = Collector(client.messages)
        let topic = uniqueTopic("v5")
        try await client.subscribe(topic, qos: .exactlyOnce)
        try await client.publish(MQTTMessage(topic: topic, text: "five", qos: .exactlyOnce))
        let message = try await received.waitFor("the MQTT 5 message") { $0.topic == topic }
        #expect(message.payloadText == "five")
        #expect(message.qos == .exactlyOnce)

        try await client.unsubscribe(topic)
        // After UNSUBACK nothing more arrives on the topic; a second subscription proves the
        // order: its message arrives, the one to the dropped topic does not come before it.
        let marker = uniqueTopic("v5-marker")
        try await client.subscribe(marker)
        try await client.publish(MQTTMessage(topic: topic, text: "after unsubscribe", qos: .atLeastOnce))
        try await client.publish(MQTTMessage(topic: marker, text: "marker", qos: .atLeastOnce))
        _ = try await received.waitFor("the marker") { $0.topic == marker }
        #expect(received.elements.filter { $0.topic == topic }.count == 1)
        await client.disconnect()
    }
}
