import CMosquitto
import Synchronization

/// What ``MQTTClient`` shows to any thread: updated on the loop thread.
struct MQTTClientSnapshot: Sendable {
    var isConnected = false
    var isStarted = false
    var isStopped = false
    var statistics = MQTTClientStatistics()
    /// Topics whose latest messages were dropped (none delivered after them), with how many
    /// since the last one delivered; at most ``maxDroppedTopics`` topics. See
    /// ``MQTTClient/takeDroppedTopics(afterHandling:)``.
    var droppedTopics: [String: Int] = [:]

    /// Beyond this many distinct topics a drop is only counted (``MQTTClientStatistics/messagesDropped``).
    static let maxDroppedTopics = 65_536
}

/// The loop-thread half of ``MQTTClient``: the waiting callers (publishes awaiting their ack,
/// subscriptions awaiting SUBACK, tasks awaiting the connection) and the translation of
/// connection signals into queued messages and events. Only the loop thread touches the
/// dictionaries; `snapshot`, the message queue and the event continuation are thread-safe.
final class MQTTClientCore: @unchecked Sendable {
    private struct PendingPublish {
        let call: MQTTPendingCall
        let topic: String
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct Waiter {
        let call: MQTTPendingCall
        let continuation: CheckedContinuation<Void, any Error>
    }

    let connection: MQTTConnection
    let loop: MQTTEventLoop
    let snapshot = Mutex(MQTTClientSnapshot())
    let messages: MQTTMessageQueue
    let eventContinuation: AsyncStream<MQTTConnectionEvent>.Continuation

    // Loop thread only.
    private var pendingPublishes: [Int32: PendingPublish] = [:]
    private var publishMids: [ObjectIdentifier: Int32] = [:]
    private var connectionWaiters: [ObjectIdentifier: Waiter] = [:]
    private var subscribeWaiters: [String: [Waiter]] = [:]
    private var unsubscribeWaiters: [String: [Waiter]] = [:]
    private var isStopped = false
    private var isShuttingDown = false

    init(
        connection: MQTTConnection, loop: MQTTEventLoop,
        messages: MQTTMessageQueue,
        eventContinuation: AsyncStream<MQTTConnectionEvent>.Continuation
    ) {
        self.connection = connection
        self.loop = loop
        self.messages = messages
        self.eventContinuation = eventContinuation
    }

    private var broker: String { connection.broker }

    private func updateStatistics(_ update: (inout MQTTClientStatistics) -> Void) {
        snapshot.withLock { update(&$0.statistics) }
    }

    // MARK: Signals from the connection

    func handle(_ signal: MQTTConnectionSignal) {
        switch signal {
        case .connected(let sessionPresent):
            snapshot.withLock { state in
                state.isConnected = true
                state.statistics.connects += 1
                if state.statistics.connects > 1 { state.statistics.reconnects += 1 }
            }
            eventContinuation.yield(.connected(sessionPresent: sessionPresent))
            let waiters = connectionWaiters.values
            connectionWaiters.removeAll()
            for waiter in waiters { waiter.continuation.resume() }
        case .disconnected(let reason):
            snapshot.withLock { state in
                state.isConnected = false
                state.statistics.disconnects += 1
            }
            eventContinuation.yield(.disconnected(reason: reason))
        case .connectFailed(let reason):
            updateStatistics { $0.connectFailures += 1 }
            eventContinuation.yield(.connectFailed(reason: reason))
        case .message(let message):
            // Queue and count under one lock: whoever sees the message (or reads the counters)
            // sees both counters already updated.
            snapshot.withLock { state in
                state.statistics.messagesReceived += 1
                switch messages.offer(message) {
                case .enqueued:
                    // The reader sees this one after the dropped ones: a gap it can notice.
                    if !state.droppedTopics.isEmpty { state.droppedTopics[message.topic] = nil }
                case .dropped:
                    state.statistics.messagesDropped += 1
                    if state.droppedTopics.count < MQTTClientSnapshot.maxDroppedTopics || state.droppedTopics[message.topic] != nil {
                        state.droppedTopics[message.topic, default: 0] += 1
                    }
                case .finished: state.statistics.messagesDropped += 1
                }
            }
        case .published(let mid, let reasonCode):
            guard let pending = pendingPublishes.removeValue(forKey: mid) else { return }
            publishMids[pending.call.key] = nil
            if reasonCode >= 0x80 {
                updateStatistics { $0.publishesFailed += 1 }
                let reason = mosquitto_reason_string(reasonCode).map { String(cString: $0).lowercased() } ?? "reason code \(reasonCode)"
                pending.continuation.resume(throwing: MQTTClientError.publishRejected(topic: pending.topic, reason: reason))
            } else {
                updateStatistics { $0.publishesAcknowledged += 1 }
                pending.continuation.resume()
            }
        case .subscribed(let filter, let grantedQoS):
            for waiter in subscribeWaiters.removeValue(forKey: filter) ?? [] {
                if grantedQoS == nil {
                    waiter.continuation.resume(throwing: MQTTClientError.subscriptionRejected(filter: filter))
                } else {
                    waiter.continuation.resume()
                }
            }
        case .unsubscribed(let filter):
            for waiter in unsubscribeWaiters.removeValue(forKey: filter) ?? [] { waiter.continuation.resume() }
        }
    }

    // MARK: Calls from MQTTClient (posted to the loop thread)

    func start() {
        guard !isStopped && !isShuttingDown else { return }
        connection.connect()
    }

    func publish(
        _ message: MQTTMessage, timeout: Duration, call: MQTTPendingCall, continuation: CheckedContinuation<Void, any Error>
    ) {
        if isStopped || isShuttingDown { return continuation.resume(throwing: MQTTClientError.clientStopped) }
        if call.isCancelled { return continuation.resume(throwing: CancellationError()) }
        switch connection.publish(message) {
        case .refused(let error):
            continuation.resume(throwing: error)
        case .accepted(let mid):
            updateStatistics { $0.messagesPublished += 1 }
            guard message.qos != .atMostOnce else { return continuation.resume() }
            if let stale = pendingPublishes[mid] {
                // Mids are 16 bits and wrap; an older message with this mid must have been
                // waiting for over 65,535 publishes. Its ack can no longer be told apart.
                fail(stale, with: MQTTClientError.publishTimedOut(topic: stale.topic, after: timeout))
            }
            pendingPublishes[mid] = PendingPublish(call: call, topic: message.topic, continuation: continuation)
            publishMids[call.key] = mid
            loop.schedule(at: .now + timeout) { [self] in
                guard let mid = publishMids[call.key], let pending = pendingPublishes[mid] else { return }
                fail(pending, with: MQTTClientError.publishTimedOut(topic: pending.topic, after: timeout))
            }
        }
    }

    private func fail(_ pending: PendingPublish, with error: any Error) {
        guard let mid = publishMids.removeValue(forKey: pending.call.key) else { return }
        pendingPublishes[mid] = nil
        updateStatistics { $0.publishesFailed += 1 }
        pending.continuation.resume(throwing: error)
    }

    func subscribe(
        _ filter: String, qos: MQTTQoS, timeout: Duration, call: MQTTPendingCall,
        continuation: CheckedContinuation<Void, any Error>
    ) {
        if isStopped || isShuttingDown { return continuation.resume(throwing: MQTTClientError.clientStopped) }
        if call.isCancelled { return continuation.resume(throwing: CancellationError()) }
        switch connection.subscribe(filter, qos: qos) {
        case .remembered: continuation.resume()
        case .refused(let error): continuation.resume(throwing: error)
        case .sent:
            subscribeWaiters[filter, default: []].append(Waiter(call: call, continuation: continuation))
            loop.schedule(at: .now + timeout) { [self] in
                expireWaiter(call, filter: filter, in: &subscribeWaiters, error: MQTTClientError.subscriptionTimedOut(filter: filter, after: timeout))
            }
        }
    }

    func unsubscribe(
        _ filter: String, timeout: Duration, call: MQTTPendingCall, continuation: CheckedContinuation<Void, any Error>
    ) {
        if isStopped || isShuttingDown { return continuation.resume(throwing: MQTTClientError.clientStopped) }
        if call.isCancelled { return continuation.resume(throwing: CancellationError()) }
        switch connection.unsubscribe(filter) {
        case .remembered: continuation.resume()
        case .refused(let error): continuation.resume(throwing: error)
        case .sent:
            unsubscribeWaiters[filter, default: []].append(Waiter(call: call, continuation: continuation))
            loop.schedule(at: .now + timeout) { [self] in
                expireWaiter(call, filter: filter, in: &unsubscribeWaiters, error: MQTTClientError.subscriptionTimedOut(filter: filter, after: timeout))
            }
        }
    }

    private func expireWaiter(_ call: MQTTPendingCall, filter: String, in waiters: inout [String: [Waiter]], error: any Error) {
        guard var list = waiters[filter], let index = list.firstIndex(where: { $0.call === call }) else { return }
        let waiter = list.remove(at: index)
        waiters[filter] = list.isEmpty ? nil : list
        waiter.continuation.resume(throwing: error)
    }

    func waitUntilConnected(timeout: Duration, call: MQTTPendingCall, continuation: CheckedContinuation<Void, any Error>) {
        if isStopped || isShuttingDown { return continuation.resume(throwing: MQTTClientError.clientStopped) }
        if call.isCancelled { return continuation.resume(throwing: CancellationError()) }
        if connection.isConnected { return continuation.resume() }
        connectionWaiters[call.key] = Waiter(call: call, continuation: continuation)
        loop.schedule(at: .now + timeout) { [self] in
            guard let waiter = connectionWaiters.removeValue(forKey: call.key) else { return }
            waiter.continuation.resume(throwing: MQTTClientError.stillNotConnected(
                broker: broker, after: timeout, lastFailure: connection.lastFailure.map { "\($0)" }))
        }
    }

    /// The caller's task was cancelled: fail its call now if it is still waiting.
    func cancel(_ call: MQTTPendingCall) {
        if let mid = publishMids[call.key], let pending = pendingPublishes[mid] {
            fail(pending, with: CancellationError())
        }
        if let waiter = connectionWaiters.removeValue(forKey: call.key) {
            waiter.continuation.resume(throwing: CancellationError())
        }
        for filter in subscribeWaiters.keys {
            expireWaiter(call, filter: filter, in: &subscribeWaiters, error: CancellationError())
        }
        for filter in unsubscribeWaiters.keys {
            expireWaiter(call, filter: filter, in: &unsubscribeWaiters, error: CancellationError())
        }
    }

    func dropConnection() {
        connection.dropConnection(reconnectAfter: nil)
    }

    /// Clean DISCONNECT, then fail every waiter, finish the streams, free libmosquitto and end
    /// the loop thread. `completion` runs once all of that is done.
    func shutdown(_ completion: @escaping () -> Void) {
        if isStopped { return completion() }
        if isShuttingDown {
            // A second disconnect() while the first is still closing: finish with it.
            return connection.disconnect(completion)
        }
        isShuttingDown = true
        connection.disconnect { [self] in
            isStopped = true
            for pending in pendingPublishes.values { fail(pending, with: MQTTClientError.clientStopped) }
            let waiters = Array(connectionWaiters.values) + subscribeWaiters.values.joined() + unsubscribeWaiters.values.joined()
            connectionWaiters.removeAll()
            subscribeWaiters.removeAll()
            unsubscribeWaiters.removeAll()
            for waiter in waiters { waiter.continuation.resume(throwing: MQTTClientError.clientStopped) }
            snapshot.withLock { state in
                state.isConnected = false
                state.isStopped = true
            }
            messages.finish()
            eventContinuation.finish()
            // This may run inside the client's own on_disconnect callback: free the client on the
            // next loop turn, outside libmosquitto, then let the loop thread end.
            loop.runOnNextTurn { [self] in
                connection.destroy()
                loop.beginShutdown()
            }
            completion()
        }
    }
}
