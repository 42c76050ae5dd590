public import Logging
import Synchronization

/// An async/await MQTT client over one libmosquitto client, for the edge runtime's site and
/// cloud connections.
///
/// ```swift
/// let client = try MQTTClient(configuration: .init(brokerURL: "mqtt://127.0.0.1:1883"), logger: logger)
/// client.start()                                  // connects in the background, retries forever
/// try await client.subscribe("fogline/v1/site-a/dev/+/telemetry", qos: .atLeastOnce)
/// try await client.waitUntilConnected(timeout: .seconds(10))
/// try await client.publish(MQTTMessage(topic: "…/status", text: "{}", qos: .atLeastOnce))
/// for await message in client.messages { … }
/// await client.disconnect()
/// ```
///
/// **Threads.** Each client owns one thread that runs its libmosquitto event loop (`poll()`,
/// `mosquitto_loop_read`/`_write`/`_misc`); every libmosquitto call and callback happens
/// there. Callers hand work over to it and await the result; nothing blocks a Swift
/// concurrency thread. See ``MQTTMultiplexer`` to drive thousands of clients from one thread.
///
/// **Connection.** ``start()`` returns at once; the client connects in the background and
/// reconnects after every failure or drop with capped exponential backoff and jitter
/// (``MQTTClientConfiguration/reconnectBackoff``), until ``disconnect()``. Every attempt has a
/// deadline (``MQTTClientConfiguration/connectTimeout``), so neither a silent TLS failure nor
/// a broker that never answers can leave it stuck. ``events`` reports each change.
///
/// **Delivery.** Subscriptions are remembered and restored after every reconnect. A QoS 1/2
/// ``publish(_:timeout:)`` returns when the broker acknowledged it. While disconnected,
/// publishes are refused with ``MQTTClientError/notConnected(broker:)`` *before* anything reaches
/// libmosquitto: libmosquitto 2.0.11 queues a QoS 1/2 message even when it reports
/// `MOSQ_ERR_NO_CONN`, so a caller's retry would send it twice. Data that must survive an
/// outage goes through the caller's SQLite outbox (published again after reconnecting, and
/// deduplicated by the receiver), not through this client's memory.
///
/// **Lifetime.** The client runs until ``disconnect()`` (or until it is deinitialised, which
/// disconnects it too). A disconnected client cannot be started again.
public final class MQTTClient: Sendable {
    public let configuration: MQTTClientConfiguration
    /// Received messages, in arrival order: `for await message in client.messages`, or a batch
    /// of whatever has arrived with ``MQTTMessageQueue/nextBatch(maximum:)``. Bounded by
    /// ``MQTTClientConfiguration/incomingBufferLimit``: when the reader falls behind, newer
    /// messages are dropped and counted (``statistics``), so memory stays flat. Read it from
    /// one task. It ends after ``disconnect()``.
    ///
    /// libmosquitto 2.0 acknowledges a QoS 1 message before handing it over, so a message
    /// dropped here is lost for good: device data relies on sequence numbers and replay.
    public let messages: MQTTMessageQueue
    /// Connection changes (newest kept when nobody reads; at most 64 buffered). Finishes after
    /// ``disconnect()``.
    public let events: AsyncStream<MQTTConnectionEvent>

    private let loop: MQTTEventLoop
    private let core: MQTTClientCore

    /// Creates the client and its event-loop thread. Nothing connects until ``start()``.
    ///
    /// - Throws: ``MQTTClientError/invalidConfiguration(_:)`` when the configuration cannot work
    ///   (the message says which setting), or ``MQTTClientError/library(operation:code:detail:)``.
    public init(configuration: MQTTClientConfiguration, logger: Logger = Logger(label: "fogline.mqtt")) throws {
        self.configuration = configuration
        let loop = try MQTTEventLoop(name: "client \(configuration.clientID)", logger: logger, maximumConnectsInFlight: 1)
        let connection = try MQTTConnection(configuration: configuration, loop: loop, quiet: false, forwardLibraryLog: true)
        let messages = MQTTMessageQueue(capacity: configuration.incomingBufferLimit)
        let (events, eventContinuation) = AsyncStream.makeStream(of: MQTTConnectionEvent.self, bufferingPolicy: .bufferingNewest(64))
        let core = MQTTClientCore(
            connection: connection, loop: loop, messages: messages, eventContinuation: eventContinuation)
        connection.onSignal = { [core] signal in core.handle(signal) }
        self.messages = messages
        self.events = events
        self.loop = loop
        self.core = core
        loop.post { [loop, connection] in loop.add(connection) }
        do {
            try LoopThread.start(name: "fogline-mqtt") { [loop] in loop.run() }
        } catch {
            connection.destroy()
            throw error
        }
    }

    deinit {
        // Nobody can await this client any more: close it without waiting.
        loop.post { [core] in core.shutdown {} }
    }

    /// Starts connecting in the background; returns at once. Calling it again does nothing.
    public func start() {
        let shouldStart = core.snapshot.withLock { state in
            defer { state.isStarted = true }
            return !state.isStarted && !state.isStopped
        }
        if shouldStart { loop.post { [core] in core.start() } }
    }

    /// Whether the client has a connection (CONNACK received and not lost since).
    public var isConnected: Bool { core.snapshot.withLock { $0.isConnected } }

    /// Counters since the client was created.
    public var statistics: MQTTClientStatistics { core.snapshot.withLock { $0.statistics } }

    /// The topics whose latest messages ``messages`` dropped, with how many since the last one
    /// it delivered on that topic, once the reader has handled every message the stream
    /// delivered (`handled` is how many it has taken and handled); `nil` while some are still
    /// waiting (the record is then kept). Taking clears the record.
    ///
    /// Why: a dropped message that another on its topic follows leaves a gap the reader can
    /// see, but one that nothing follows (a device's last readings before it falls quiet)
    /// leaves none. Only the latter are listed, and they came after everything the reader has
    /// seen on that topic, so it can ask for them again.
    public func takeDroppedTopics(afterHandling handled: Int) -> [String: Int]? {
        core.snapshot.withLock { state in
            let delivered = state.statistics.messagesReceived - state.statistics.messagesDropped
            guard handled >= delivered else { return nil }
            defer { state.droppedTopics = [:] }
            return state.droppedTopics
        }
    }

    /// Returns once connected, or throws ``MQTTClientError/stillNotConnected(broker:after:lastFailure:)``
    /// (which says why the last attempt failed) after `timeout`.
    public func waitUntilConnected(timeout: Duration) async throws {
        try await perform { core, call, continuation in
            core.waitUntilConnected(timeout: timeout, call: call, continuation: continuation)
        }
    }

    /// Subscribes to `filter` and remembers it: it is restored after every reconnect.
    ///
    /// When connected, returns once the broker confirmed it (SUBACK); when not, returns at once
    /// and the subscription is sent on connect.
    ///
    /// - Throws: ``MQTTClientError/invalidTopicFilter(_:detail:)``,
    ///   ``MQTTClientError/subscriptionRejected(filter:)`` (then it is forgotten again),
    ///   ``MQTTClientError/subscriptionTimedOut(filter:after:)`` (it stays remembered).
    public func subscribe(_ filter: String, qos: MQTTQoS = .atLeastOnce, timeout: Duration? = nil) async throws {
        try MQTTTopic.validateTopicFilter(filter)
        let timeout = timeout ?? configuration.subscribeTimeout
        try await perform { core, call, continuation in
            core.subscribe(filter, qos: qos, timeout: timeout, call: call, continuation: continuation)
        }
    }

    /// Unsubscribes and forgets `filter`. When connected, returns once the broker confirmed it.
    public func unsubscribe(_ filter: String, timeout: Duration? = nil) async throws {
        try MQTTTopic.validateTopicFilter(filter)
        let timeout = timeout ?? configuration.subscribeTimeout
        try await perform { core, call, continuation in
            core.unsubscribe(filter, timeout: timeout, call: call, continuation: continuation)
        }
    }

    /// Publishes `message`.
    ///
    /// - QoS 0 returns once libmosquitto accepted the message.
    /// - QoS 1/2 returns once the broker acknowledged it (PUBACK/PUBCOMP). If the connection
    ///   drops first, libmosquitto sends it again after reconnecting and the call completes with
    ///   that acknowledgement, or throws ``MQTTClientError/publishTimedOut(topic:after:)`` after
    ///   `timeout` (default ``MQTTClientConfiguration/publishTimeout``). After a timeout or a
    ///   cancellation the message may still be delivered: do not republish it blindly.
    ///
    /// - Throws: ``MQTTClientError/notConnected(broker:)`` at once when disconnected (nothing
    ///   is queued, so retrying later cannot duplicate), ``MQTTClientError/invalidTopic(_:detail:)``,
    ///   ``MQTTClientError/payloadTooLarge(topic:size:)``, ``MQTTClientError/publishRejected(topic:reason:)``
    ///   (MQTT 5), ``MQTTClientError/clientStopped``, `CancellationError`.
    public func publish(_ message: MQTTMessage, timeout: Duration? = nil) async throws {
        try MQTTTopic.validateTopicName(message.topic)
        let timeout = timeout ?? configuration.publishTimeout
        try await perform { core, call, continuation in
            core.publish(message, timeout: timeout, call: call, continuation: continuation)
        }
    }

    /// Fault injection: closes the socket without sending DISCONNECT, as a crash or a cut cable
    /// would, so the broker publishes this client's will. The client reconnects by itself.
    public func dropConnection() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let posted = loop.post { [core] in
                core.dropConnection()
                continuation.resume()
            }
            if !posted { continuation.resume() }
        }
    }

    /// Whether the client's event-loop thread runs work handed to it within `timeout`: false
    /// when the loop has ended or is stuck (a watchdog's question; connected or not does not
    /// matter here, see ``isConnected``).
    public func loopResponds(within timeout: Duration) async -> Bool {
        let answer = OneAnswer()
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            answer.waiting.withLock { $0 = continuation }
            let posted = loop.post { answer.give(true) }
            if !posted { answer.give(false) }
            Task {
                try? await Task.sleep(for: timeout)  // the deadline of the question, not a wait for a condition
                answer.give(false)
            }
        }
    }

    /// The first of several answers wins.
    private final class OneAnswer: Sendable {
        let waiting = Mutex<CheckedContinuation<Bool, Never>?>(nil)

        func give(_ value: Bool) { waiting.withLock { $0.take() }?.resume(returning: value) }
    }

    /// Sends DISCONNECT (the broker discards the will), stops reconnecting, fails whatever is
    /// still waiting with ``MQTTClientError/clientStopped``, finishes ``messages`` and
    /// ``events``, and ends the client's thread. Unacknowledged QoS 1/2 messages are dropped.
    public func disconnect() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let posted = loop.post { [core] in core.shutdown { continuation.resume() } }
            if !posted { continuation.resume() }
        }
    }

    /// Hands `operation` to the loop thread and awaits its continuation, forwarding
    /// cancellation. If the loop has already ended, fails with `.clientStopped`.
    private func perform(
        _ operation: @escaping @Sendable (MQTTClientCore, MQTTPendingCall, CheckedContinuation<Void, any Error>) -> Void
    ) async throws {
        let call = MQTTPendingCall()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let posted = loop.post { [core] in operation(core, call, continuation) }
                if !posted { continuation.resume(throwing: MQTTClientError.clientStopped) }
            }
        } onCancel: { [loop, core] in
            call.markCancelled()
            loop.post { core.cancel(call) }
        }
    }
}
