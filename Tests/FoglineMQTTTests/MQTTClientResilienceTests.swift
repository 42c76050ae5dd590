import FoglineMQTT
import FoglineTesting
import Synchronization
import Testing

@Suite("MQTTClient reconnects, wills and acknowledgements")
struct MQTTClientResilienceTests {
    @Test("an abruptly dropped connection makes the broker publish the will; the client reconnects")
    func willOnAbruptDrop() async throws {
        let broker = try await startBroker()
        let willTopic = uniqueTopic("dev/pump-1/death")
        let watcher = try await connectedClient(fastConfiguration(broker), label: "watcher")
        let wills = Collector(watcher.messages)
        try await watcher.subscribe(willTopic, qos: .atLeastOnce)

        var configuration = fastConfiguration(broker)
        configuration.will = MQTTMessage(topic: willTopic, text: #"{"reason":"lost"}"#, qos: .atLeastOnce)
        let device = try await connectedClient(configuration, label: "device")
        let events = Collector(device.events)

        await device.dropConnection()
        let will = try await wills.waitFor("the will") { $0.topic == willTopic }
        #expect(will.payloadText == #"{"reason":"lost"}"#)
        try await eventually("the device to reconnect") { device.statistics.reconnects >= 1 && device.isConnected }
        #expect(events.elements.contains { if case .disconnected = $0 { true } else { false } })

        // A clean disconnect sends DISCONNECT: no will. The marker, published after the
        // disconnect returned, arrives; the will must not have come before it.
        await device.disconnect()
        let publisher = try await connectedClient(fastConfiguration(broker), label: "marker")
        try await publisher.publish(MQTTMessage(topic: willTopic, text: "marker", qos: .atLeastOnce))
        _ = try await wills.waitFor("the marker") { $0.payloadText == "marker" }
        #expect(wills.elements.filter { $0.payloadText == #"{"reason":"lost"}"# }.count == 1)
        await publisher.disconnect()
        await watcher.disconnect()
    }

    @Test("after the broker is killed and restarted, clients reconnect and subscriptions are restored")
    func brokerRestart() async throws {
        let broker = try await startBroker()
        let topic = uniqueTopic("after-restart")
        let subscriber = try await connectedClient(fastConfiguration(broker), label: "subscriber")
        let received = Collector(subscriber.messages)
        let events = Collector(subscriber.events)
        try await subscriber.subscribe(topic, qos: .atLeastOnce)
        let publisher = try await connectedClient(fastConfiguration(broker), label: "publisher")

        broker.kill()
        try await eventually("both clients to notice") { !subscriber.isConnected && !publisher.isConnected }
        await #expect(throws: MQTTClientError.self) {
            try await publisher.publish(MQTTMessage(topic: topic, text: "while down", qos: .atLeastOnce))
        }
        try await restart(broker)
        try await subscriber.waitUntilConnected(timeout: .seconds(20))
        try await publisher.waitUntilConnected(timeout: .seconds(20))

        // The restored SUBSCRIBE may still be in flight: publish until a message arrives.
        var sequence = 0
        try await eventually("a message published after the restart") {
            sequence += 1
            try await publisher.publish(MQTTMessage(topic: topic, text: "after \(sequence)", qos: .atLeastOnce))
            return received.count > 0
        }
        #expect(received.elements.allSatisfy { $0.payloadText?.hasPrefix("after") == true })
        #expect(subscriber.statistics.reconnects >= 1)
        let kinds = events.elements.map { event -> String in
            switch event {
            case .connected: "connected"
            case .disconnected: "disconnected"
            case .connectFailed: "connectFailed"
            }
        }
        #expect(kinds.first == "connected")
        #expect(kinds.contains("disconnected"))
        #expect(kinds.last == "connected")
        await publisher.disconnect()
        await subscriber.disconnect()
    }

    @Test("an MQTT 5 broker's reason for disconnecting a client is reported")
    func disconnectReason() async throws {
        // Mosquitto 2.0.11 just closes the socket on a session takeover, so a fake broker sends
        // the DISCONNECT (0x8E "session taken over") that MQTT 5 brokers such as EMQX send.
        let fake = try FakeBroker(autoAcknowledge: true)
        var configuration = MQTTClientConfiguration(host: "127.0.0.1", port: fake.port, clientID: "twin", protocolVersion: .v5)
        configuration.reconnectBackoff = MQTTReconnectBackoff(minimumDelay: .milliseconds(50), maximumDelay: .milliseconds(200))
        let client = try await connectedClient(configuration, label: "twin")
        let events = Collector(client.events)
        fake.sendDisconnect(reasonCode: 0x8E, reasonString: "another twin connected")
        let event = try await events.waitFor("the disconnect") { if case .disconnected = $0 { true } else { false } }
        guard case .disconnected(let reason) = event else { return }
        #expect("\(reason)".contains("session taken over"))
        // The reason string is not checked: libmosquitto 2.0.11 frees the DISCONNECT's
        // properties before its callback runs, so it never reaches the client.
        try await eventually("the reconnect") { fake.connectionCount >= 2 && client.isConnected }
        await client.disconnect()
    }

    @Test("a client started while the broker is down connects once it starts")
    func brokerStartsLater() async throws {
        let broker = try await startBroker()
        broker.stop()
        let client = try MQTTClient(configuration: fastConfiguration(broker), logger: testLogger("late-broker"))
        let events = Collector(client.events)
        client.start()
        let failure = try await events.waitFor("a failed attempt") { if case .connectFailed = $0 { true } else { false } }
        guard case .connectFailed(let reason) = failure else { return }
        #expect(reason == .connectionFailed(broker: "mqtt://127.0.0.1:\(broker.port)", detail: "connection refused"))
        #expect("\(reason)".contains("Is the broker running"))
        await #expect(throws: MQTTClientError.self) { try await client.waitUntilConnected(timeout: .milliseconds(200)) }

        try await restart(broker)
        try await client.waitUntilConnected(timeout: .seconds(20))
        #expect(client.statistics.connectFailures >= 1)
        await client.disconnect()
    }

    @Test("publishing while disconnected fails at once and queues nothing")
    func publishWhileDisconnected() async throws {
        let broker = try await startBroker()
        let client = try MQTTClient(configuration: fastConfiguration(broker), logger: testLogger("not-started"))
        for qos in MQTTQoS.allCases {
            await #expect(throws: MQTTClientError.notConnected(broker: "mqtt://127.0.0.1:\(broker.port)")) {
                try await client.publish(MQTTMessage(topic: "fogline/x", text: "x", qos: qos))
            }
        }
        await #expect(throws: MQTTClientError.self) { try await client.waitUntilConnected(timeout: .milliseconds(100)) }
        // Nothing was queued inside libmosquitto: after connecting, nothing is sent either.
        let watcher = try await connectedClient(fastConfiguration(broker), label: "watcher")
        let received = Collector(watcher.messages)
        try await watcher.subscribe("fogline/#")
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(20))
        try await client.publish(MQTTMessage(topic: "fogline/marker", text: "marker", qos: .atLeastOnce))
        _ = try await received.waitFor("the marker") { $0.topic == "fogline/marker" }
        #expect(received.elements.map(\.topic) == ["fogline/marker"])
        #expect(client.statistics.messagesPublished == 1)
        await client.disconnect()
        await watcher.disconnect()
    }

    @Test("a QoS 1 publish completes only when its PUBACK arrives")
    func publishWaitsForAcknowledgement() async throws {
        let fake = try FakeBroker(autoAcknowledge: false)
        var configuration = MQTTClientConfiguration(host: "127.0.0.1", port: fake.port, clientID: "ack-test")
        configuration.reconnectBackoff = MQTTReconnectBackoff(minimumDelay: .milliseconds(50), maximumDelay: .milliseconds(200))
        let client = try await connectedClient(configuration, label: "ack")
        let completed = Completion()
        let publish = Task {
            try await client.publish(MQTTMessage(topic: "fogline/ack", text: "1", qos: .atLeastOnce), timeout: .seconds(20))
            completed.set()
        }
        try await eventually("the broker to receive the PUBLISH") { fake.publishes.count == 1 }
        // The broker has it but has not acknowledged it, so the publish must still be waiting.
        #expect(!completed.isSet)
        #expect(client.statistics.publishesAcknowledged == 0)
        fake.acknowledge(fake.publishes[0].packetID)
        try await publish.value
        #expect(completed.isSet)
        #expect(client.statistics.publishesAcknowledged == 1)
        await client.disconnect()
    }

    @Test("an unacknowledged publish throws after its timeout instead of hanging", .timeLimit(.minutes(1)))
    func publishTimesOut() async throws {
        let fake = try FakeBroker(autoAcknowledge: false)
        let client = try await connectedClient(MQTTClientConfiguration(host: "127.0.0.1", port: fake.port), label: "timeout")
        await #expect(throws: MQTTClientError.publishTimedOut(topic: "fogline/slow", after: .milliseconds(300))) {
            try await client.publish(MQTTMessage(topic: "fogline/slow", text: "x", qos: .atLeastOnce), timeout: .milliseconds(300))
        }
        #expect(client.statistics.publishesFailed == 1)
        #expect(fake.publishes.count == 1)
        await client.disconnect()
    }

    @Test("a publish whose connection drops completes when libmosquitto resends it after reconnecting")
    func publishSurvivesReconnect() async throws {
        let fake = try FakeBroker(autoAcknowledge: false)
        var configuration = MQTTClientConfiguration(host: "127.0.0.1", port: fake.port, clientID: "redelivery-test")
        configuration.reconnectBackoff = MQTTReconnectBackoff(minimumDelay: .milliseconds(50), maximumDelay: .milliseconds(200))
        let client = try await connectedClient(configuration, label: "redelivery")
        let ended = Completion()
        let publish = Task {
            defer { ended.set() }
            try await client.publish(MQTTMessage(topic: "fogline/redelivered", text: "1", qos: .atLeastOnce), timeout: .seconds(20))
        }
        try await eventually("the first PUBLISH") { fake.publishes.count == 1 || ended.isSet }
        if fake.publishes.isEmpty {
            // Say why instead of only that it timed out (seen once on a loaded machine).
            let outcome = await publish.result
            Issue.record("the publish ended before the broker saw it: \(outcome); client connected: \(client.isConnected), broker connections: \(fake.connectionCount)")
            await client.disconnect()
            return
        }
        fake.setAutoAcknowledge(true)
        fake.dropCurrentConnection()
        try await publish.value
        #expect(fake.connectionCount >= 2)
        let resent = fake.publishes.dropFirst()
        #expect(resent.contains { $0.topic == "fogline/redelivered" && $0.isDuplicate })
        #expect(client.statistics.publishesAcknowledged == 1)
        await client.disconnect()
    }

    @Test("cancelling a waiting publish ends it with CancellationError")
    func cancelledPublish() async throws {
        let fake = try FakeBroker(autoAcknowledge: false)
        let client = try await connectedClient(MQTTClientConfiguration(host: "127.0.0.1", port: fake.port), label: "cancel")
        let publish = Task {
            try await client.publish(MQTTMessage(topic: "fogline/cancel", text: "x", qos: .atLeastOnce), timeout: .seconds(60))
        }
        try await eventually("the PUBLISH") { fake.publishes.count == 1 }
        publish.cancel()
        await #expect(throws: CancellationError.self) { try await publish.value }
        await client.disconnect()
    }
}

/// A flag set once, readable from any task.
final class Completion: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .releasing) }
    var isSet: Bool { flag.load(ordering: .acquiring) }
}
