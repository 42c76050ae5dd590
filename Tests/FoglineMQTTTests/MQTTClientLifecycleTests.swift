import FoglineMQTT
import FoglineTesting
import Testing

@Suite("MQTTClient buffering and lifecycle")
struct MQTTClientLifecycleTests {
    @Test("a full incoming buffer drops and counts messages instead of growing")
    func boundedIncomingBuffer() async throws {
        let broker = try await startBroker()
        let topic = uniqueTopic("flood")
        var configuration = fastConfiguration(broker)
        configuration.incomingBufferLimit = 10
        let slowReader = try await connectedClient(configuration, label: "slow-reader")
        try await slowReader.subscribe(topic, qos: .atLeastOnce)
        let publisher = try await connectedClient(fastConfiguration(broker), label: "flooder")
        for index in 0..<100 {
            try await publisher.publish(MQTTMessage(topic: topic, text: "\(index)", qos: .atLeastOnce))
        }
        try await eventually("all 100 messages to arrive") { slowReader.statistics.messagesReceived == 100 }
        #expect(slowReader.statistics.messagesDropped == 90)
        #expect(slowReader.takeDroppedTopics(afterHandling: 0) == nil, "ten delivered messages are not handled yet")

        // The buffer kept the oldest ten, in order.
        var iterator = slowReader.messages.makeAsyncIterator()
        var kept: [String] = []
        for _ in 0..<10 {
            if let message = await iterator.next() { kept.append(message.payloadText ?? "") }
        }
        #expect(kept == (0..<10).map { "\($0)" })
        #expect(slowReader.takeDroppedTopics(afterHandling: 9) == nil)
        #expect(slowReader.takeDroppedTopics(afterHandling: 10) == [topic: 90])
        #expect(slowReader.takeDroppedTopics(afterHandling: 10) == [:], "taking clears the record")

        // Drops that a delivered message on the same topic follows are left out: the reader
        // sees a gap there. Ten of these twenty are dropped, then one gets through.
        let other = uniqueTopic("other")
        try await slowReader.subscribe(other, qos: .atLeastOnce)
        for index in 0..<20 {
            try await publisher.publish(MQTTMessage(topic: index < 15 ? topic : other, text: "\(index)", qos: .atLeastOnce))
        }
        try await eventually("twenty more to arrive") { slowReader.statistics.messagesReceived == 120 }
        _ = await iterator.next()
        try await publisher.publish(MQTTMessage(topic: topic, text: "after", qos: .atLeastOnce))
        try await eventually("the last one to arrive") { slowReader.statistics.messagesReceived == 121 }
        for _ in 0..<10 { _ = await iterator.next() }
        #expect(slowReader.takeDroppedTopics(afterHandling: 21) == [other: 5])
        await publisher.disconnect()
        await slowReader.disconnect()
        #expect(await iterator.next() == nil)  // disconnect() finishes the stream.
    }

    @Test("after disconnect() every call fails with clientStopped and the streams finish")
    func stoppedClient() async throws {
        let broker = try await startBroker()
        let client = try await connectedClient(fastConfiguration(broker))
        await client.disconnect()
        await client.disconnect()  // Twice is fine.
        #expect(!client.isConnected)
        await #expect(throws: MQTTClientError.clientStopped) {
            try await client.publish(MQTTMessage(topic: "fogline/x", text: "x", qos: .atLeastOnce))
        }
        await #expect(throws: MQTTClientError.clientStopped) { try await client.subscribe("fogline/#") }
        await #expect(throws: MQTTClientError.clientStopped) { try await client.waitUntilConnected(timeout: .seconds(1)) }
        var events: [MQTTConnectionEvent] = []
        for await event in client.events { events.append(event) }
        #expect(events.first == .connected(sessionPresent: false))
        #expect(events.last == .disconnected(reason: .clientStopped))
        client.start()  // Does nothing on a stopped client.
        #expect(!client.isConnected)
    }

    @Test("invalid configurations are refused with a sentence naming the setting")
    func invalidConfiguration() throws {
        var configuration = MQTTClientConfiguration(host: "127.0.0.1")
        configuration.keepAlive = .seconds(1)
        #expect {
            _ = try MQTTClient(configuration: configuration)
        } throws: { error in
            "\(error)".contains("keepAlive")
        }
        configuration = MQTTClientConfiguration(host: "")
        #expect(throws: MQTTClientError.self) { _ = try MQTTClient(configuration: configuration) }
        configuration = MQTTClientConfiguration(host: "127.0.0.1")
        configuration.tls = MQTTTLSConfiguration(caFile: "/nonexistent/ca.crt")
        #expect {
            _ = try MQTTClient(configuration: configuration)
        } throws: { error in
            "\(error)".contains("/nonexistent/ca.crt")
        }
    }

    @Test("topics and filters are checked before anything is sent")
    func topicValidation() async throws {
        let client = try MQTTClient(configuration: MQTTClientConfiguration(host: "127.0.0.1"))
        await #expect(throws: MQTTClientError.invalidTopic("fogline/+/x", detail: "wildcards (+ and #) are only allowed in subscriptions")) {
            try await client.publish(MQTTMessage(topic: "fogline/+/x"))
        }
        await #expect(throws: MQTTClientError.self) { try await client.publish(MQTTMessage(topic: "")) }
        await #expect(throws: MQTTClientError.self) { try await client.publish(MQTTMessage(topic: "a\u{0}b")) }
        await #expect(throws: MQTTClientError.self) { try await client.subscribe("fogline/#/x") }
        #expect(MQTTTopic.matches(filter: "fogline/v1/+/dev/#", topic: "fogline/v1/site-a/dev/pump-1/telemetry"))
        #expect(!MQTTTopic.matches(filter: "fogline/v1/+/dev/#", topic: "fogline/v1/site-a/node/n1/status"))
        await client.disconnect()
    }
}
