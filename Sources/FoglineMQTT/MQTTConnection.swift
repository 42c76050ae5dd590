import CMosquitto
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a connection reports to the facade that owns it, on the loop thread.
enum MQTTConnectionSignal {
    case connected(sessionPresent: Bool)
    /// An established connection ended; `.clientStopped` after ``MQTTConnection/disconnect(_:)``.
    case disconnected(MQTTClientError)
    case connectFailed(MQTTClientError)
    case message(MQTTMessage)
    /// QoS 0: written to the socket. QoS 1/2: acknowledged; `reasonCode` ≥ 0x80 is an MQTT 5 refusal.
    case published(mid: Int32, reasonCode: Int32)
    /// `grantedQoS` is nil when the broker refused the subscription.
    case subscribed(filter: String, grantedQoS: MQTTQoS?)
    case unsubscribed(filter: String)
}

/// One libmosquitto client and its connection state machine: connect, time out, back off,
/// reconnect, restore subscriptions, disconnect cleanly. Shared by ``MQTTClient`` (one per
/// event loop) and ``MQTTMultiplexer`` (thousands per event loop).
///
/// Everything here runs on the owning ``MQTTEventLoop``'s thread, including the libmosquitto
/// callbacks (the loop calls `mosquitto_loop_read`/`_write`/`_misc` itself).
final class MQTTConnection: @unchecked Sendable {
    enum Phase: Equatable {
        /// Not trying to connect (new, or after `disconnect`).
        case idle
        /// Waiting for one of the loop's connect slots.
        case queued
        /// TCP/TLS/CONNECT under way.
        case connecting(deadline: ContinuousClock.Instant)
        case connected
        /// A retry is scheduled.
        case waitingToReconnect
        /// Our DISCONNECT is being written.
        case closing(deadline: ContinuousClock.Instant)
        /// `mosquitto_destroy` has run.
        case destroyed

        var isConnecting: Bool {
            if case .connecting = self { return true }
            return false
        }

        var hasSocket: Bool {
            switch self {
            case .connecting, .connected, .closing: return true
            default: return false
            }
        }
    }

    private typealias Subscription = (filter: String, qos: MQTTQoS)

    let configuration: MQTTClientConfiguration
    let broker: String
    unowned let loop: MQTTEventLoop
    /// Position in the loop's connection list, for O(1) removal.
    var loopIndex = -1
    /// Receives every signal, on the loop thread. Set before the connection is handed to the loop.
    var onSignal: (MQTTConnectionSignal) -> Void = { _ in }

    private var handle: OpaquePointer?
    private(set) var phase: Phase = .idle
    private var wantsConnection = false
    private var connectInitialised = false
    private var failedAttempts = 0
    /// Bumped on every attempt and on disconnect, so a stale retry timer does nothing.
    private var attemptGeneration: UInt64 = 0
    private var reconnectNotBefore: ContinuousClock.Instant?
    private(set) var hasConnectedBefore = false
    private var subscriptions: [Subscription] = []
    private var pendingSubacks: [Int32: String] = [:]
    private var pendingUnsubacks: [Int32: String] = [:]
    private var connackFailure: MQTTClientError?
    private var lastLibraryError: String?
    private var lastReportedFailure: MQTTClientError?
    private(set) var lastFailure: MQTTClientError?
    private var closeCompletions: [() -> Void] = []
    /// Multiplexer clients log their connection changes at debug level: thousands of
    /// "connected" lines help nobody.
    private let quiet: Bool

    private var metadata: Logger.Metadata {
        ["mqtt.client": "\(configuration.clientID)", "mqtt.broker": "\(broker)"]
    }

    /// Creates and configures the libmosquitto client. Call from any thread, before the
    /// connection is handed to its loop.
    init(configuration: MQTTClientConfiguration, loop: MQTTEventLoop, quiet: Bool, forwardLibraryLog: Bool) throws(MQTTClientError) {
        try configuration.validate()
        MosquittoLibrary.ensureInitialized()
        self.configuration = configuration
        self.broker = configuration.brokerDescription
        self.loop = loop
        self.quiet = quiet
        guard let handle = mosquitto_new(configuration.clientID, configuration.cleanSession, nil) else {
            throw .library(operation: "mosquitto_new", code: errno, detail: MosquittoLibrary.describeErrno(errno))
        }
        self.handle = handle
        do {
            try configure(handle, forwardLibraryLog: forwardLibraryLog)
        } catch {
            mosquitto_destroy(handle)
            self.handle = nil
            throw error
        }
        // The library holds a +1 reference to its context for as long as it may call back:
        // released in destroy(), right after mosquitto_destroy.
        mosquitto_user_data_set(handle, Unmanaged.passRetained(self).toOpaque())
    }

    private func configure(_ handle: OpaquePointer, forwardLibraryLog: Bool) throws(MQTTClientError) {
        func check(_ code: Int32, _ operation: String) throws(MQTTClientError) {
            guard code != MOSQ_ERR_SUCCESS.rawValue else { return }
            throw .library(operation: operation, code: code, detail: MosquittoLibrary.describe(code))
        }
        let version = configuration.protocolVersion == .v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311
        try check(mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, version), "setting the protocol version")
        try check(mosquitto_int_option(handle, MOSQ_OPT_SEND_MAXIMUM, Int32(configuration.sendMaximum)), "setting sendMaximum")
        // Small device messages should not wait for Nagle's algorithm.
        try check(mosquitto_int_option(handle, MOSQ_OPT_TCP_NODELAY, 1), "setting TCP_NODELAY")
        if let username = configuration.username {
            try check(mosquitto_username_pw_set(handle, username, configuration.password), "setting username and password")
        }
        if let will = configuration.will {
            let code = will.payload.withUnsafeBytes { bytes in
                mosquitto_will_set(handle, will.topic, Int32(bytes.count), bytes.baseAddress, will.qos.rawValue, will.retain)
            }
            if code == MOSQ_ERR_PAYLOAD_SIZE.rawValue { throw .payloadTooLarge(topic: will.topic, size: will.payload.count) }
            try check(code, "setting the will")
        }
        if let tls = configuration.tls {
            let capath = tls.caFile == nil ? "/etc/ssl/certs" : nil
            let code = mosquitto_tls_set(handle, tls.caFile, capath, tls.certFile, tls.keyFile, nil)
            if code == MOSQ_ERR_INVAL.rawValue {
                let files = [tls.caFile, tls.certFile, tls.keyFile].compactMap { $0 }.joined(separator: ", ")
                throw .invalidConfiguration("libmosquitto cannot use the TLS files (\(files.isEmpty ? "system CA store" : files)); check that they exist and are readable.")
            }
            try check(code, "setting up TLS")
            if tls.insecureSkipVerify {
                try check(mosquitto_tls_insecure_set(handle, true), "disabling TLS host name checks")
                try check(mosquitto_tls_opts_set(handle, 0 /* SSL_VERIFY_NONE */, nil, nil), "disabling TLS verification")
            }
        }
        installCallbacks(handle, forwardLibraryLog: forwardLibraryLog)
    }

    // MARK: Commands (loop thread)

    /// Starts connecting (and keeps reconnecting) until ``disconnect(_:)``. During a clean
    /// close, connects again once the DISCONNECT is out.
    func connect() {
        guard phase != .destroyed, !loop.isShuttingDown else { return }
        wantsConnection = true
        if phase == .idle { enqueueAttempt() }
    }

    /// Sends DISCONNECT (so the broker does not publish the will), stops reconnecting, and
    /// calls `completion` once the connection is closed.
    func disconnect(_ completion: @escaping () -> Void) {
        wantsConnection = false
        attemptGeneration &+= 1
        reconnectNotBefore = nil
        switch phase {
        case .connected:
            closeCompletions.append(completion)
            setPhase(.closing(deadline: .now + .seconds(2)))
            // Not in a callback and not threaded: libmosquitto writes the DISCONNECT right
            // away, and its on_disconnect (which finishes the close) may run before this returns.
            guard let handle, mosquitto_disconnect(handle) == MOSQ_ERR_SUCCESS.rawValue else {
                finishClose()
                return
            }
        case .closing:
            closeCompletions.append(completion)
        case .connecting:
            shutdownSocket()
            setPhase(.idle)
            completion()
        case .queued, .waitingToReconnect, .idle:
            setPhase(.idle)
            completion()
        case .destroyed:
            completion()
        }
    }

    /// Fault injection: closes the socket without DISCONNECT, as a crash or a cut cable would.
    /// The broker publishes the will; the client reconnects by itself, not before
    /// `reconnectAfter` when given.
    func dropConnection(reconnectAfter: Duration?) {
        guard phase.hasSocket else { return }
        if case .closing = phase { return }  // Already leaving cleanly.
        reconnectNotBefore = reconnectAfter.map { .now + $0 }
        // shutdown(), not close(): libmosquitto still owns the descriptor and closes it itself
        // when its next read sees the end of the stream.
        shutdownSocket()
    }

    enum PublishOutcome {
        case accepted(mid: Int32)
        case refused(MQTTClientError)
    }

    func publish(_ message: MQTTMessage) -> PublishOutcome {
        guard let handle, phase == .connected else { return .refused(.notConnected(broker: broker)) }
        guard message.payload.count <= 268_435_455 else {
            return .refused(.payloadTooLarge(topic: message.topic, size: message.payload.count))
        }
        var mid: Int32 = 0
        let code = message.payload.withUnsafeBytes { bytes in
            mosquitto_publish(handle, &mid, message.topic, Int32(bytes.count), bytes.baseAddress, message.qos.rawValue, message.retain)
        }
        switch code {
        case MOSQ_ERR_SUCCESS.rawValue:
            loop.count { $0.messagesPublished += 1 }
            return .accepted(mid: mid)
        case MOSQ_ERR_INVAL.rawValue, MOSQ_ERR_MALFORMED_UTF8.rawValue:
            return .refused(.invalidTopic(message.topic, detail: "libmosquitto rejects it"))
        case MOSQ_ERR_PAYLOAD_SIZE.rawValue, MOSQ_ERR_OVERSIZE_PACKET.rawValue:
            return .refused(.payloadTooLarge(topic: message.topic, size: message.payload.count))
        case MOSQ_ERR_NOMEM.rawValue, MOSQ_ERR_QOS_NOT_SUPPORTED.rawValue, MOSQ_ERR_RETAIN_NOT_SUPPORTED.rawValue,
            MOSQ_ERR_NOT_SUPPORTED.rawValue, MOSQ_ERR_PROTOCOL.rawValue, MOSQ_ERR_DUPLICATE_PROPERTY.rawValue,
            MOSQ_ERR_TOPIC_ALIAS_INVALID.rawValue:
            // Rejected before libmosquitto queued anything.
            return .refused(.library(operation: "mosquitto_publish", code: code, detail: MosquittoLibrary.describe(code)))
        default:
            // The socket failed while the packet was being written. libmosquitto 2.0.11 has
            // already queued a QoS 1/2 message at this point and sends it again after the
            // reconnect, so it counts as accepted: its acknowledgement (or the caller's timeout)
            // completes it. Reporting a failure would invite a retry, i.e. a duplicate.
            guard message.qos != .atMostOnce else { return .refused(.notConnected(broker: broker)) }
            loop.count { $0.messagesPublished += 1 }
            return .accepted(mid: mid)
        }
    }

    enum SubscriptionOutcome: Equatable {
        /// Sent; a `.subscribed`/`.unsubscribed` signal follows.
        case sent
        /// Not connected: remembered and applied on the next connect.
        case remembered
        case refused(MQTTClientError)
    }

    /// Remembers the subscription (it is restored after every reconnect) and sends it now if
    /// connected.
    func subscribe(_ filter: String, qos: MQTTQoS) -> SubscriptionOutcome {
        if let index = subscriptions.firstIndex(where: { $0.filter == filter }) {
            subscriptions[index].qos = qos
        } else {
            subscriptions.append((filter, qos))
        }
        guard phase == .connected else { return .remembered }
        return sendSubscribe(filter, qos: qos)
    }

    func unsubscribe(_ filter: String) -> SubscriptionOutcome {
        subscriptions.removeAll { $0.filter == filter }
        guard let handle, phase == .connected else { return .remembered }
        var mid: Int32 = 0
        let code = mosquitto_unsubscribe(handle, &mid, filter)
        if code == MOSQ_ERR_SUCCESS.rawValue {
            pendingUnsubacks[mid] = filter
            return .sent
        }
        // A socket failure: the next session starts without the subscription anyway (clean
        // session), or it is fixed by the next unsubscribe.
        return isSocketFailure(code) ? .remembered
            : .refused(.library(operation: "mosquitto_unsubscribe", code: code, detail: MosquittoLibrary.describe(code)))
    }

    var isConnected: Bool { phase == .connected }

    var subscribedFilters: [String] { subscriptions.map(\.filter) }

    private func sendSubscribe(_ filter: String, qos: MQTTQoS) -> SubscriptionOutcome {
        guard let handle else { return .remembered }
        var mid: Int32 = 0
        let code = mosquitto_subscribe(handle, &mid, filter, qos.rawValue)
        if code == MOSQ_ERR_SUCCESS.rawValue {
            pendingSubacks[mid] = filter
            return .sent
        }
        if isSocketFailure(code) { return .remembered }  // Restored after the reconnect that follows.
        subscriptions.removeAll { $0.filter == filter }
        return .refused(.invalidTopicFilter(filter, detail: MosquittoLibrary.describe(code).lowercased()))
    }

    private func isSocketFailure(_ code: Int32) -> Bool {
        [MOSQ_ERR_NO_CONN, MOSQ_ERR_CONN_LOST, MOSQ_ERR_ERRNO, MOSQ_ERR_KEEPALIVE].contains { $0.rawValue == code }
    }

    // MARK: Attempts (loop thread)

    private func enqueueAttempt() {
        setPhase(.queued)
        loop.enqueueConnect(self)
    }

    /// Called by the loop when a connect slot is free.
    func startQueuedAttempt() {
        guard phase == .queued else { return }
        guard wantsConnection, let handle, !loop.isShuttingDown else {
            setPhase(.idle)
            return
        }
        attemptGeneration &+= 1
        connackFailure = nil
        lastLibraryError = nil
        loop.count { $0.connectAttempts += 1 }
        let code: Int32
        if connectInitialised {
            code = mosquitto_reconnect_async(handle)
        } else {
            // The first call records host, port and keepalive; every later attempt, whether this
            // one failed or not, goes through mosquitto_reconnect_async.
            code = mosquitto_connect_bind_async(handle, configuration.host, Int32(configuration.port), configuration.keepAliveSeconds, nil)
            connectInitialised = code != MOSQ_ERR_INVAL.rawValue && code != MOSQ_ERR_NOMEM.rawValue
        }
        let systemError = errno
        if code == MOSQ_ERR_SUCCESS.rawValue {
            // libmosquitto does not set close-on-exec: a process the application spawns would
            // inherit the socket and keep the connection open after we close it.
            let descriptor = mosquitto_socket(handle)
            if descriptor >= 0 { _ = fcntl(descriptor, F_SETFD, fcntl(descriptor, F_GETFD) | FD_CLOEXEC) }
            setPhase(.connecting(deadline: .now + configuration.connectTimeout))
        } else {
            attemptFailed(
                MosquittoLibrary.connectFailure(code: code, systemError: systemError, libraryDetail: lastLibraryError, broker: broker))
        }
    }

    private func attemptFailed(_ failure: MQTTClientError) {
        setPhase(.waitingToReconnect)
        failedAttempts += 1
        lastFailure = failure
        loop.count { $0.connectFailures += 1 }
        if failure != lastReportedFailure && !quiet {
            loop.logger.warning(
                "MQTT connection attempt failed; retrying with backoff",
                metadata: metadata.merging(["mqtt.error": "\(failure)", "mqtt.attempts": "\(failedAttempts)"]) { $1 })
        } else {
            loop.logger.debug(
                "MQTT connection attempt failed", metadata: metadata.merging(["mqtt.error": "\(failure)"]) { $1 })
        }
        lastReportedFailure = failure
        onSignal(.connectFailed(failure))
        scheduleRetry(after: configuration.reconnectBackoff.delay(afterFailedAttempts: failedAttempts - 1))
    }

    private func connectionLost(_ reason: MQTTClientError) {
        setPhase(.waitingToReconnect)
        pendingSubacks.removeAll()
        pendingUnsubacks.removeAll()
        lastFailure = reason
        lastReportedFailure = nil
        loop.count { $0.disconnects += 1 }
        if quiet {
            loop.logger.debug("MQTT connection lost", metadata: metadata.merging(["mqtt.error": "\(reason)"]) { $1 })
        } else {
            loop.logger.warning("MQTT connection lost; reconnecting", metadata: metadata.merging(["mqtt.error": "\(reason)"]) { $1 })
        }
        onSignal(.disconnected(reason))
        scheduleRetry(after: configuration.reconnectBackoff.delay(afterFailedAttempts: 0))
    }

    private func scheduleRetry(after delay: Duration) {
        guard wantsConnection, !loop.isShuttingDown else {
            setPhase(.idle)
            return
        }
        var deadline = ContinuousClock.now + delay
        if let notBefore = reconnectNotBefore {
            deadline = max(deadline, notBefore)
            reconnectNotBefore = nil
        }
        let generation = attemptGeneration
        loop.schedule(at: deadline) { [self] in
            guard generation == attemptGeneration, phase == .waitingToReconnect else { return }
            enqueueAttempt()
        }
    }

    private func finishClose() {
        guard case .closing = phase else { return }
        setPhase(.idle)
        loop.count { $0.disconnects += 1 }
        loop.logger.debug("MQTT client disconnected", metadata: metadata)
        onSignal(.disconnected(.clientStopped))
        let completions = closeCompletions
        closeCompletions.removeAll()
        for completion in completions { completion() }
        // connect() was called again while the DISCONNECT was going out.
        if wantsConnection && phase == .idle { enqueueAttempt() }
    }

    private func setPhase(_ newPhase: Phase) {
        let old = phase
        phase = newPhase
        if old.isConnecting != newPhase.isConnecting {
            loop.connectsInFlight += newPhase.isConnecting ? 1 : -1
            loop.count { $0.connectingClients += newPhase.isConnecting ? 1 : -1 }
        }
        if (old == .connected) != (newPhase == .connected) {
            loop.count { $0.connectedClients += newPhase == .connected ? 1 : -1 }
        }
    }

    private func shutdownSocket() {
        guard let handle else { return }
        let descriptor = mosquitto_socket(handle)
        if descriptor >= 0 { _ = shutdown(descriptor, Int32(SHUT_RDWR)) }
    }

    /// Frees the libmosquitto client and drops the library's reference to this object. Must
    /// not run inside one of this client's callbacks (use ``MQTTEventLoop/runOnNextTurn(_:)``).
    func destroy() {
        guard let handle else { return }
        if case .closing = phase { finishClose() }
        setPhase(.destroyed)
        wantsConnection = false
        self.handle = nil
        let context = mosquitto_userdata(handle)
        mosquitto_destroy(handle)
        if let context { Unmanaged<MQTTConnection>.fromOpaque(context).release() }
        // The handler may hold a handle to this connection: break that cycle.
        onSignal = { _ in }
        loop.remove(self)
    }

    // MARK: I/O (loop thread)

    /// The descriptor and `poll()` events this connection waits for, if it has a socket.
    func pollInterest() -> (descriptor: Int32, events: Int16)? {
        guard let handle, phase.hasSocket else { return nil }
        let descriptor = mosquitto_socket(handle)
        guard descriptor >= 0 else { return nil }
        let events = Int32(POLLIN) | (mosquitto_want_write(handle) ? Int32(POLLOUT) : 0)
        return (descriptor, Int16(events))
    }

    func handleReadiness(descriptor: Int32, events: Int16) {
        // The socket may have changed while earlier clients' handlers ran this turn.
        guard let handle, phase.hasSocket, mosquitto_socket(handle) == descriptor else { return }
        let readable = Int32(events) & Int32(POLLIN | POLLERR | POLLHUP | POLLNVAL) != 0
        let writable = Int32(events) & Int32(POLLOUT) != 0
        // While TLS is handshaking, libmosquitto advances the handshake in loop_read, whichever
        // direction the socket became ready in.
        if readable || (writable && configuration.tls != nil && phase.isConnecting) {
            let code = mosquitto_loop_read(handle, 1)
            if code != MOSQ_ERR_SUCCESS.rawValue {
                libraryLoopFailed(code, systemError: errno)
                return
            }
        }
        guard writable, let handle = self.handle, phase.hasSocket, mosquitto_socket(handle) >= 0 else { return }
        let code = mosquitto_loop_write(handle, 1)
        if code != MOSQ_ERR_SUCCESS.rawValue { libraryLoopFailed(code, systemError: errno) }
    }

    func housekeeping(now: ContinuousClock.Instant) {
        guard let handle else { return }
        switch phase {
        case .connecting(let deadline) where now >= deadline:
            shutdownSocket()
            let failure: MQTTClientError =
                if let detail = lastLibraryError, configuration.tls != nil { .tlsFailed(broker: broker, detail: detail) }
                else { .connectTimedOut(broker: broker, after: configuration.connectTimeout) }
            attemptFailed(failure)
        case .connected:
            // Keepalive: sends PINGREQ when due, and closes the connection (through
            // on_disconnect) when the broker stopped answering.
            let code = mosquitto_loop_misc(handle)
            if code != MOSQ_ERR_SUCCESS.rawValue && code != MOSQ_ERR_NO_CONN.rawValue {
                libraryLoopFailed(code, systemError: errno)
            }
        case .closing(let deadline) where now >= deadline:
            shutdownSocket()
            finishClose()
        default:
            break
        }
    }

    /// loop_read/loop_write/loop_misc failed. Most failures have already gone through
    /// on_disconnect (which moved the phase on); this handles the ones libmosquitto returns
    /// without a callback, such as a failed TLS handshake.
    private func libraryLoopFailed(_ code: Int32, systemError: Int32) {
        switch phase {
        case .connecting:
            shutdownSocket()
            attemptFailed(connackFailure ?? MosquittoLibrary.connectFailure(
                code: code, systemError: systemError, libraryDetail: lastLibraryError, broker: broker))
        case .connected:
            shutdownSocket()
            connectionLost(MosquittoLibrary.connectionLoss(
                code: code, systemError: systemError, protocolVersion: configuration.protocolVersion, reasonString: nil, broker: broker))
        case .closing:
            finishClose()
        default:
            break
        }
    }

    // MARK: Library callbacks (loop thread, inside loop_read/loop_write/loop_misc)

    func libraryDidConnect(code: Int32, flags: Int32, properties: OpaquePointer?) {
        guard phase.isConnecting else { return }
        guard code == 0 else {
            // libmosquitto closes the connection right after this and reports it through
            // on_disconnect, which turns this into the attempt's failure.
            connackFailure = MosquittoLibrary.connackFailure(
                code: code, protocolVersion: configuration.protocolVersion,
                reasonString: MosquittoLibrary.reasonString(in: properties), broker: broker)
            return
        }
        setPhase(.connected)
        failedAttempts = 0
        lastReportedFailure = nil
        loop.count { $0.connects += 1 }
        let sessionPresent = flags & 1 != 0
        loop.logger.log(
            level: quiet ? .debug : (hasConnectedBefore ? .notice : .info),
            hasConnectedBefore ? "MQTT client reconnected" : "MQTT client connected",
            metadata: metadata.merging(["mqtt.session_present": "\(sessionPresent)"]) { $1 })
        hasConnectedBefore = true
        // Restore every remembered subscription: a clean session starts without any. The
        // packets are queued (we are inside a callback) and written by the next loop_write.
        for subscription in subscriptions {
            _ = sendSubscribe(subscription.filter, qos: subscription.qos)
        }
        onSignal(.connected(sessionPresent: sessionPresent))
    }

    func libraryDidDisconnect(code: Int32, properties: OpaquePointer?) {
        let systemError = errno
        switch phase {
        case .closing:
            finishClose()
        case .connected:
            connectionLost(MosquittoLibrary.connectionLoss(
                code: code, systemError: systemError, protocolVersion: configuration.protocolVersion,
                reasonString: MosquittoLibrary.reasonString(in: properties), broker: broker))
        case .connecting:
            attemptFailed(connackFailure ?? MosquittoLibrary.connectFailure(
                code: code, systemError: systemError, libraryDetail: lastLibraryError, broker: broker))
        default:
            break
        }
    }

    func libraryDidPublish(mid: Int32, reasonCode: Int32) {
        loop.count { $0.publishesCompleted += 1 }
        onSignal(.published(mid: mid, reasonCode: reasonCode))
    }

    func libraryDidReceive(_ message: MQTTMessage) {
        loop.count { $0.messagesReceived += 1 }
        onSignal(.message(message))
    }

    func libraryDidSubscribe(mid: Int32, grantedCodes: [Int32]) {
        guard let filter = pendingSubacks.removeValue(forKey: mid) else { return }
        let code = grantedCodes.first ?? 0x80
        if let granted = MQTTQoS(rawValue: code) {
            onSignal(.subscribed(filter: filter, grantedQoS: granted))
        } else {
            // Refused (ACL, bad filter): restoring it after every reconnect would only fail again.
            subscriptions.removeAll { $0.filter == filter }
            loop.logger.warning("MQTT broker refused a subscription", metadata: metadata.merging(["mqtt.filter": "\(filter)"]) { $1 })
            onSignal(.subscribed(filter: filter, grantedQoS: nil))
        }
    }

    func libraryDidUnsubscribe(mid: Int32) {
        guard let filter = pendingUnsubacks.removeValue(forKey: mid) else { return }
        onSignal(.unsubscribed(filter: filter))
    }

    func libraryDidLog(level: Int32, text: String) {
        if level == MOSQ_LOG_ERR {
            // OpenSSL's reason for a failed handshake arrives only here, e.g.
            // "OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed".
            lastLibraryError = Self.openSSLReason(in: text)
        }
        if loop.logger.logLevel <= .trace {
            loop.logger.trace("libmosquitto: \(text)", metadata: metadata)
        } else if level == MOSQ_LOG_ERR || level == MOSQ_LOG_WARNING {
            loop.logger.debug("libmosquitto: \(text)", metadata: metadata)
        }
    }
}
