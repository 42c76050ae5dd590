public import Logging
import Synchronization

/// Drives many MQTT clients — thousands, for the device simulator — from one thread.
///
/// There is no thread per client: one `poll()` loop serves every socket
/// (`mosquitto_socket`, `mosquitto_loop_read`, `mosquitto_loop_write` when
/// `mosquitto_want_write`, `mosquitto_loop_misc` once a second for keepalive), and a timer
/// heap on the same thread runs scheduled work. A simulator can therefore drive all device
/// behaviour from that thread without locks: handlers and scheduled work may call the
/// ``ClientHandle`` methods directly.
///
/// Clients connect progressively: at most `maximumConnectsInFlight` attempts run at once, so
/// 5,000 devices do not overflow the broker's accept backlog. Dropped clients reconnect with
/// the backoff of their configuration (jittered, so a broker restart does not trigger a
/// stampede). The multiplexer raises the open-files soft limit to the hard limit when created.
///
/// ```swift
/// let mux = try MQTTMultiplexer(logger: logger)
/// for id in 0..<5_000 {
///     _ = try mux.addClient(configuration(for: id)) { client, event in
///         if case .connected = event {
///             client.publish(birth(id))
///             mux.schedule(after: .seconds(1)) { client.publish(reading(id)) }
///         }
///     }
/// }
/// try mux.start()   // or mux.run() to use the calling thread
/// …
/// mux.stop()
/// ```
///
/// Handlers run on the loop thread and must be quick: a slow handler delays every client.
public final class MQTTMultiplexer: Sendable {
    /// Receives every event of one client, on the loop thread.
    public typealias Handler = @Sendable (ClientHandle, MQTTMultiplexerEvent) -> Void

    private enum Lifecycle {
        case created
        case running(ownThread: Bool)
        case stopped
    }

    private let loop: MQTTEventLoop
    private let lifecycle = Mutex(Lifecycle.created)
    private let logger: Logger
    /// The open-files limit after the multiplexer raised it.
    public let fileDescriptorLimit: Int

    /// - Parameters:
    ///   - maximumConnectsInFlight: how many connection attempts may run at once.
    ///   - batchingInterval: under load, the loop starts a turn at most this often. `poll()`
    ///     costs time for every socket however few are ready (about 1 ms for 5,000 sockets), so
    ///     letting events gather and handling them in one turn cuts CPU severalfold: 5,000 clients
    ///     publishing one QoS 1 message a second each took ~80 % of a core unpaced, ~28 % with
    ///     10 ms, ~18 % with 20 ms. It adds at most that much latency (none to an idle loop).
    ///     `.zero` turns pacing off.
    public init(
        logger: Logger = Logger(label: "fogline.mqtt.multiplexer"), maximumConnectsInFlight: Int = 64,
        batchingInterval: Duration = .milliseconds(10)
    ) throws {
        self.logger = logger
        fileDescriptorLimit = FileDescriptorLimit.raiseToHardLimit()
        loop = try MQTTEventLoop(
            name: "multiplexer", logger: logger, maximumConnectsInFlight: maximumConnectsInFlight, batchingInterval: batchingInterval)
        logger.debug("MQTT multiplexer created", metadata: ["mqtt.open_files_limit": "\(fileDescriptorLimit)"])
    }

    deinit {
        let neverRan = lifecycle.withLock { state -> Bool in
            if case .created = state { return true }
            return false
        }
        if neverRan {
            loop.discardWithoutRunning()
        } else {
            loop.requestShutdown()
        }
    }

    /// Adds a client; it starts connecting as soon as the loop runs (and a connect slot is
    /// free). Callable from any thread, before or after ``start()``.
    ///
    /// - Throws: ``MQTTClientError/invalidConfiguration(_:)`` and friends, like ``MQTTClient``.
    @discardableResult
    public func addClient(_ configuration: MQTTClientConfiguration, handler: @escaping Handler) throws -> ClientHandle {
        let connection = try MQTTConnection(
            configuration: configuration, loop: loop, quiet: true, forwardLibraryLog: logger.logLevel <= .debug)
        let client = ClientHandle(connection: connection)
        connection.onSignal = { signal in
            switch signal {
            case .connected(let sessionPresent): handler(client, .connected(sessionPresent: sessionPresent))
            case .disconnected(let reason): handler(client, .disconnected(reason: reason))
            case .connectFailed(let reason): handler(client, .connectFailed(reason: reason))
            case .message(let message): handler(client, .message(message))
            case .published(let mid, _): handler(client, .published(mid: mid))
            case .subscribed(let filter, let grantedQoS): handler(client, .subscribed(filter: filter, grantedQoS: grantedQoS))
            case .unsubscribed: break
            }
        }
        let posted = loop.post { [loop] in
            loop.add(connection)
            connection.connect()
        }
        if !posted {
            connection.destroy()
            throw MQTTClientError.clientStopped
        }
        return client
    }

    /// Runs `work` on the loop thread after `delay`.
    public func schedule(after delay: Duration, _ work: @escaping @Sendable () -> Void) {
        schedule(at: .now + delay, work)
    }

    /// Runs `work` on the loop thread at `deadline` (or as soon as possible after it; timers
    /// with the same deadline run in the order they were scheduled).
    public func schedule(at deadline: ContinuousClock.Instant, _ work: @escaping @Sendable () -> Void) {
        if loop.isInLoopThread {
            loop.schedule(at: deadline, work)
        } else {
            loop.post { [loop] in loop.schedule(at: deadline, work) }
        }
    }

    /// Runs `work` on the loop thread as soon as possible.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        loop.post(work)
    }

    /// Whether the caller is on the loop thread (where ``ClientHandle`` methods may be called).
    public var isInLoopThread: Bool { loop.isInLoopThread }

    public var statistics: MQTTMultiplexerStatistics {
        let counters = loop.statistics.withLock { $0 }
        var statistics = MQTTMultiplexerStatistics()
        statistics.clients = counters.clients
        statistics.connectedClients = counters.connectedClients
        statistics.connectingClients = counters.connectingClients
        statistics.connectAttempts = counters.connectAttempts
        statistics.connectFailures = counters.connectFailures
        statistics.connects = counters.connects
        statistics.disconnects = counters.disconnects
        statistics.messagesReceived = counters.messagesReceived
        statistics.messagesPublished = counters.messagesPublished
        statistics.publishesCompleted = counters.publishesCompleted
        return statistics
    }

    /// Starts the loop on a new thread of its own and returns.
    public func start() throws {
        try beginRunning(ownThread: true)
        do {
            try LoopThread.start(name: "fogline-mux") { [loop] in loop.run() }
        } catch {
            lifecycle.withLock { $0 = .created }
            throw error
        }
    }

    /// Runs the loop on the calling thread until ``stop()``. SIGPIPE stays blocked on this
    /// thread afterwards (libmosquitto writes with `write()`).
    public func run() throws {
        try beginRunning(ownThread: false)
        loop.run()
    }

    /// Disconnects every client cleanly (no wills), and ends the loop. From another thread it
    /// waits until the loop has finished; from the loop thread it returns at once and the loop
    /// ends after the current turn. Calling it again does nothing.
    public func stop() {
        let wasRunning = lifecycle.withLock { state -> Bool in
            defer { state = .stopped }
            if case .running = state { return true }
            return false
        }
        loop.requestShutdown()
        if wasRunning && !loop.isInLoopThread { loop.waitUntilExited() }
    }

    private func beginRunning(ownThread: Bool) throws {
        try lifecycle.withLock { state in
            guard case .created = state else {
                throw MQTTClientError.invalidConfiguration("the multiplexer was already started or stopped; create a new one.")
            }
            state = .running(ownThread: ownThread)
        }
    }
}
