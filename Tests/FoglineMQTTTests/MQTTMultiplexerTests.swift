import FoglineMQTT
import FoglineTesting
import Foundation
import Synchronization
import Testing

@Suite("MQTTMultiplexer drives many clients from one thread")
struct MQTTMultiplexerTests {
    @Test("1,000 clients connect, each publishes 5 QoS 1 messages, all arrive; the thread count stays small")
    func thousandClients() async throws {
        let clientCount = 1_000
        let messagesPerClient = 5
        let broker = try await startBroker()
        let prefix = uniqueTopic("fleet")
        var subscriberConfiguration = fastConfiguration(broker)
        subscriberConfiguration.incomingBufferLimit = clientCount * messagesPerClient * 2
        let subscriber = try await connectedClient(subscriberConfiguration, label: "fleet-subscriber")
        let received = Collector(subscriber.messages)
        try await subscriber.subscribe("\(prefix)/#", qos: .atLeastOnce)

        // 1,000 sockets in this process: keep Foundation's Process.run() away meanwhile (see
        // spawnSafely). Released when the multiplexer has closed them.
        await SpawnLock.shared.lock()
        do {
            try await runFleet(broker: broker, prefix: prefix, received: received, clientCount: clientCount, messagesPerClient: messagesPerClient)
        } catch {
            await SpawnLock.shared.unlock()
            throw error
        }
        await SpawnLock.shared.unlock()
        await subscriber.disconnect()
    }

    private func runFleet(
        broker: MosquittoProcess, prefix: String, received: Collector<MQTTMessage>, clientCount: Int, messagesPerClient: Int
    ) async throws {
        let threadsBefore = try processThreadCount()
        let multiplexer = try MQTTMultiplexer(logger: testLogger("mux"), maximumConnectsInFlight: 100)
        let firstConnections = Mutex(Set<String>())
        let acknowledged = Atomic<Int>(0)
        let tracker = AcknowledgementTracker()
        for index in 0..<clientCount {
            var configuration = fastConfiguration(broker, clientID: "dev-\(index)")
            configuration.keepAlive = .seconds(60)
            try multiplexer.addClient(configuration) { client, event in
                switch event {
                case .connected:
                    // Publish once per device, not again after a reconnect.
                    guard firstConnections.withLock({ $0.insert(client.clientID).inserted }) else { return }
                    for sequence in 0..<messagesPerClient {
                        let message = MQTTMessage(
                            topic: "\(prefix)/\(client.clientID)", text: #"{"seq":\#(sequence)}"#, qos: .atLeastOnce)
                        if let mid = client.publish(message) { tracker.expect(mid, from: client.clientID) }
                    }
                case .published(let mid):
                    if tracker.acknowledge(mid, from: client.clientID) { acknowledged.add(1, ordering: .relaxed) }
                default:
                    break
                }
            }
        }
        try multiplexer.start()
        defer { multiplexer.stop() }

        try await eventually("all clients to connect (have \(multiplexer.statistics.connectedClients))") {
            multiplexer.statistics.connectedClients == clientCount
        }
        let threadsDuring = try processThreadCount()
        let total = clientCount * messagesPerClient
        try await eventually("\(total) acknowledged publishes") { acknowledged.load(ordering: .relaxed) == total }
        let messages = try await received.waitForCount(total)
        #expect(messages.count == total)
        let perClient = Dictionary(grouping: messages, by: \.topic).mapValues(\.count)
        #expect(perClient.count == clientCount)
        #expect(perClient.values.allSatisfy { $0 == messagesPerClient })
        #expect(multiplexer.statistics.clients == clientCount)
        #expect(multiplexer.fileDescriptorLimit >= clientCount)
        // One loop thread for 1,000 clients; a thread per client would add 1,000. Other tests
        // run in parallel in this process, hence the margin.
        #expect(threadsDuring - threadsBefore < 50, "threads before: \(threadsBefore), with 1,000 clients: \(threadsDuring)")

        multiplexer.stop()
        #expect(multiplexer.statistics.connectedClients == 0)
        #expect(multiplexer.statistics.clients == 0)
    }

    @Test("dropConnection makes the broker publish the will and the client reconnects later")
    func dropConnection() async throws {
        let broker = try await startBroker()
        let willTopic = uniqueTopic("dev/valve-2/death")
        let watcher = try await connectedClient(fastConfiguration(broker), label: "watcher")
        let wills = Collector(watcher.messages)
        try await watcher.subscribe(willTopic, qos: .atLeastOnce)

        let multiplexer = try MQTTMultiplexer(logger: testLogger("mux-drop"))
        let events = Mutex<[String]>([])
        var configuration = fastConfiguration(broker, clientID: "valve-2")
        configuration.will = MQTTMessage(topic: willTopic, text: #"{"reason":"lost"}"#, qos: .atLeastOnce)
        try multiplexer.addClient(configuration) { client, event in
            let isFirstConnect = events.withLock { events -> Bool in
                events.append("\(event)")
                return events.filter { $0.hasPrefix("connected") }.count == 1
            }
            if case .connected = event, isFirstConnect {
                #expect(multiplexer.isInLoopThread)
                #expect(client.isConnected)
                client.dropConnection(reconnectAfter: .milliseconds(100))
            }
        }
        try multiplexer.start()
        defer { multiplexer.stop() }

        let will = try await wills.waitFor("the will") { $0.topic == willTopic }
        #expect(will.payloadText == #"{"reason":"lost"}"#)
        try await eventually("the reconnect") { multiplexer.statistics.connects == 2 && multiplexer.statistics.connectedClients == 1 }
        let kinds = events.withLock { $0.map { $0.prefix(while: { $0 != "(" }) } }
        #expect(kinds == ["connected", "disconnected", "connected"])
        await watcher.disconnect()
    }

    @Test("scheduled work runs on the loop thread in deadline order; clients subscribe and receive")
    func scheduleAndSubscribe() async throws {
        let broker = try await startBroker()
        let multiplexer = try MQTTMultiplexer(logger: testLogger("mux-schedule"))
        let order = Mutex<[Int]>([])
        let onLoopThread = Atomic<Int>(0)
        for (delay, label) in [(30, 3), (10, 1), (20, 2), (10, 11)] {
            multiplexer.schedule(after: .milliseconds(delay)) {
                if multiplexer.isInLoopThread { onLoopThread.add(1, ordering: .relaxed) }
                order.withLock { $0.append(label) }
            }
        }
        let topic = uniqueTopic("commands")
        let received = Mutex<[MQTTMessage]>([])
        let handle = try multiplexer.addClient(fastConfiguration(broker, clientID: "listener")) { client, event in
            switch event {
            case .connected: client.subscribe(topic, qos: .atLeastOnce)
            case .message(let message): received.withLock { $0.append(message) }
            default: break
            }
        }
        #expect(handle.clientID == "listener")
        try multiplexer.start()
        defer { multiplexer.stop() }
        try await eventually("the timers") { order.withLock { $0.count } == 4 }
        #expect(order.withLock { $0 } == [1, 11, 2, 3])
        #expect(onLoopThread.load(ordering: .relaxed) == 4)
        #expect(!multiplexer.isInLoopThread)

        let publisher = try await connectedClient(fastConfiguration(broker), label: "commander")
        try await eventually("the subscription to be active") {
            try await publisher.publish(MQTTMessage(topic: topic, text: "open_valve", qos: .atLeastOnce))
            return received.withLock { !$0.isEmpty }
        }
        #expect(received.withLock { $0.first?.payloadText } == "open_valve")
        await publisher.disconnect()
    }

    @Test("a handle refuses to publish while its client is not connected")
    func publishBeforeConnect() async throws {
        let broker = try await startBroker()
        broker.stop()
        let multiplexer = try MQTTMultiplexer(logger: testLogger("mux-refuse"))
        let handle = try multiplexer.addClient(fastConfiguration(broker, clientID: "offline")) { _, _ in }
        try multiplexer.start()
        defer { multiplexer.stop() }
        let result = Mutex<Int32??>(nil)
        multiplexer.execute {
            result.withLock { $0 = .some(handle.publish(MQTTMessage(topic: "fogline/x", text: "x", qos: .atLeastOnce))) }
        }
        try await eventually("the publish attempt") { result.withLock { $0 != nil } }
        #expect(result.withLock { $0 } == .some(nil))
        try await eventually("failed connection attempts") { multiplexer.statistics.connectFailures >= 1 }
    }
}

/// Maps (client, mid) pairs to "acknowledged" so QoS 1 acks are counted once, whatever else
/// `.published` reports.
final class AcknowledgementTracker: Sendable {
    private let pending = Mutex(Set<String>())

    func expect(_ mid: Int32, from client: String) {
        _ = pending.withLock { $0.insert("\(client)/\(mid)") }
    }

    func acknowledge(_ mid: Int32, from client: String) -> Bool {
        pending.withLock { $0.remove("\(client)/\(mid)") != nil }
    }
}

/// `Threads:` from /proc/self/status.
func processThreadCount() throws -> Int {
    let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    for line in status.split(separator: "\n") where line.hasPrefix("Threads:") {
        if let count = Int(line.dropFirst("Threads:".count).trimmingCharacters(in: .whitespaces)) { return count }
    }
    throw DeadlineExceeded(what: "Threads in /proc/self/status", after: .zero)
}
