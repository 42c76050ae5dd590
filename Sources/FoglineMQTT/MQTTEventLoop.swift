import CMosquitto
import Dispatch
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Counters an event loop keeps for its clients; updated on the loop thread, readable from any.
struct MQTTLoopStatistics: Sendable, Hashable {
    var clients = 0
    var connectedClients = 0
    var connectingClients = 0
    var connectAttempts = 0
    var connectFailures = 0
    var connects = 0
    var disconnects = 0
    var messagesReceived = 0
    var messagesPublished = 0
    var publishesCompleted = 0
}

/// One thread that drives any number of libmosquitto clients with `poll()`.
///
/// Every libmosquitto call for the clients of a loop happens on the loop's thread: connecting,
/// reading, writing, keepalive (`mosquitto_loop_misc`), publishing, subscribing and the
/// callbacks. Other threads hand work over with ``post(_:)``; the loop wakes up through a pipe.
/// Keeping libmosquitto on one thread per client removes every cross-thread race inside it, so
/// the clients run with `mosquitto_threaded_set(false)`.
///
/// Why not `mosquitto_loop_start`: libmosquitto 2.0.11's own loop thread uses `select()` and
/// ends with `MOSQ_ERR_INVAL` as soon as a socket number is ≥ 1024 (`FD_SETSIZE`), silently,
/// like it does on TLS, auth and protocol errors; and after a failed first
/// `mosquitto_connect_async` it idles forever waiting for a state change. Owning the loop
/// makes all three impossible: there is no library thread that can die or get stuck, `poll()`
/// has no descriptor limit, and every attempt (the first included) is started, timed out and
/// retried with backoff here.
///
/// State marked "loop thread only" is touched only by the loop's thread (checked with
/// ``preconditionInLoopThread()`` on the public entry points); that is what makes the
/// `@unchecked Sendable` sound.
final class MQTTEventLoop: @unchecked Sendable {
    let name: String
    let logger: Logger
    let maximumConnectsInFlight: Int
    /// Under load, a turn starts at most this often (zero: no pacing). See
    /// ``MQTTMultiplexer/init(logger:maximumConnectsInFlight:batchingInterval:)``.
    let batchingInterval: Duration
    /// Updated with ``count(_:)``; an uncontended lock costs less than the syscalls around it.
    let statistics = Mutex(MQTTLoopStatistics())
    /// How often keepalive (`mosquitto_loop_misc`), connect timeouts and closing deadlines are
    /// checked. Keepalive is at least 5 s, so one second is precise enough.
    let housekeepingInterval: Duration = .seconds(1)

    // MARK: Cross-thread state

    private struct Inbox {
        var work: [@Sendable () -> Void] = []
        var isOpen = true
        /// A byte is in the pipe (or about to be): no need to write another.
        var wakeSignalled = false
    }

    private let inbox = Mutex(Inbox())
    private let wakeReadDescriptor: Int32
    private let wakeWriteDescriptor: Int32
    private let loopThread = Mutex<ThreadIdentity?>(nil)
    private let exited = DispatchSemaphore(value: 0)
    private let hasExited = Atomic<Bool>(false)

    // MARK: Loop thread only

    private var connections: [MQTTConnection] = []
    private var timers = TimerHeap()
    private var connectQueue: [MQTTConnection] = []
    private var connectQueueHead = 0
    /// Connections between "TCP connect started" and "CONNACK received or attempt failed".
    var connectsInFlight = 0
    private var nextTurnWork: [() -> Void] = []
    private var shutdownRequested = false
    private var shutdownDeadline: ContinuousClock.Instant?
    private var pollDescriptors: [pollfd] = []
    private var polledConnections: [MQTTConnection] = []
    private var nextHousekeeping = ContinuousClock.now

    init(name: String, logger: Logger, maximumConnectsInFlight: Int, batchingInterval: Duration = .zero) throws(MQTTClientError) {
        MosquittoLibrary.ensureInitialized()
        var descriptors: [Int32] = [-1, -1]
        let result = pipe(&descriptors)
        if result == 0 {
            for descriptor in descriptors {
                _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
                _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            }
        }
        guard result == 0 else {
            throw .library(operation: "pipe() for the event loop wake-up", code: errno, detail: MosquittoLibrary.describeErrno(errno))
        }
        self.name = name
        self.logger = logger
        self.maximumConnectsInFlight = max(1, maximumConnectsInFlight)
        self.batchingInterval = batchingInterval
        wakeReadDescriptor = descriptors[0]
        wakeWriteDescriptor = descriptors[1]
    }

    deinit {
        close(wakeReadDescriptor)
        close(wakeWriteDescriptor)
    }

    // MARK: Any thread

    /// Runs `work` on the loop thread, after work posted before it. Returns false (and drops
    /// `work`) when the loop has finished, so callers can fail their waiters instead of hanging.
    @discardableResult
    func post(_ work: @escaping @Sendable () -> Void) -> Bool {
        let shouldWake: Bool? = inbox.withLock { inbox in
            guard inbox.isOpen else { return nil }
            inbox.work.append(work)
            let wasSignalled = inbox.wakeSignalled
            inbox.wakeSignalled = true
            return !wasSignalled
        }
        guard let shouldWake else { return false }
        if shouldWake {
            var byte: UInt8 = 1
            _ = write(wakeWriteDescriptor, &byte, 1)
        }
        return true
    }

    var isInLoopThread: Bool {
        loopThread.withLock { $0?.isCurrent ?? false }
    }

    func preconditionInLoopThread(_ function: StaticString = #function) {
        precondition(isInLoopThread, "\(function) must be called on the MQTT event loop's thread (from a handler or scheduled work)")
    }

    /// Asks the loop to disconnect every client cleanly and return from ``run()``.
    func requestShutdown() {
        post { [self] in beginShutdown() }
    }

    /// Blocks until ``run()`` has returned. Must not be called on the loop thread.
    func waitUntilExited() {
        guard !hasExited.load(ordering: .acquiring) else { return }
        exited.wait()
        exited.signal()  // Let any other waiter through too.
    }

    // MARK: Loop thread

    /// Runs the loop on the calling thread until ``requestShutdown()`` has closed every client.
    func run() {
        loopThread.withLock { $0 = ThreadIdentity.current }
        // libmosquitto writes plain sockets with write(), which raises SIGPIPE when the broker
        // has gone; by default that kills the process. Blocked on this thread, the write fails
        // with EPIPE instead and the client reconnects. (It stays blocked: restoring the mask
        // would deliver the pending signal.)
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
        logger.debug("MQTT event loop started", metadata: ["mqtt.loop": "\(name)"])
        nextHousekeeping = .now + housekeepingInterval
        while true {
            let turnStarted = ContinuousClock.now
            runPostedWork()
            runNextTurnWork()
            if shutdownRequested && connections.isEmpty { break }
            let now = ContinuousClock.now
            runDueTimers(now: now)
            startQueuedConnects()
            if now >= nextHousekeeping {
                housekeeping(now: now)
                nextHousekeeping = now + housekeepingInterval
            }
            runNextTurnWork()
            pollAndDispatch()
            pace(turnStarted: turnStarted)
        }
        // Close the inbox, then run what was posted meanwhile: that work sees stopped clients and
        // fails its waiters at once instead of leaving them hanging.
        let remaining = inbox.withLock { inbox -> [@Sendable () -> Void] in
            inbox.isOpen = false
            defer { inbox.work = [] }
            return inbox.work
        }
        for work in remaining { work() }
        runNextTurnWork()
        for connection in connections { connection.destroy() }
        connections.removeAll()
        timers.removeAll()
        logger.debug("MQTT event loop stopped", metadata: ["mqtt.loop": "\(name)"])
        loopThread.withLock { $0 = nil }
        hasExited.store(true, ordering: .releasing)
        exited.signal()
    }

    /// Frees everything of a loop whose thread never ran (its owner was dropped before
    /// starting it): runs the posted work, which only registers clients, then destroys them.
    func discardWithoutRunning() {
        shutdownRequested = true
        runPostedWork()
        runNextTurnWork()
        inbox.withLock { $0.isOpen = false }
        for connection in connections { connection.destroy() }
        connections.removeAll()
        timers.removeAll()
        hasExited.store(true, ordering: .releasing)
        exited.signal()
    }

    /// Runs `action` on the loop thread at `deadline` (loop thread only).
    func schedule(at deadline: ContinuousClock.Instant, _ action: @escaping () -> Void) {
        timers.push(deadline: deadline, action: action)
    }

    /// Runs `action` at the start of the next loop turn, outside any libmosquitto call. Used to
    /// destroy a client from inside one of its own callbacks (loop thread only).
    func runOnNextTurn(_ action: @escaping () -> Void) {
        nextTurnWork.append(action)
    }

    var isShuttingDown: Bool { shutdownRequested }

    func count(_ update: (inout MQTTLoopStatistics) -> Void) {
        statistics.withLock { update(&$0) }
    }

    func add(_ connection: MQTTConnection) {
        connection.loopIndex = connections.count
        connections.append(connection)
        count { $0.clients += 1 }
        if shutdownRequested { runOnNextTurn { connection.destroy() } }
    }

    /// Forgets a destroyed connection (loop thread only).
    func remove(_ connection: MQTTConnection) {
        let index = connection.loopIndex
        guard index >= 0, index < connections.count, connections[index] === connection else { return }
        let last = connections.removeLast()
        if index < connections.count {
            connections[index] = last
            last.loopIndex = index
        }
        connection.loopIndex = -1
        count { $0.clients -= 1 }
    }

    /// Queues a connection attempt; at most ``maximumConnectsInFlight`` run at once so that
    /// thousands of clients do not overflow the broker's accept backlog.
    func enqueueConnect(_ connection: MQTTConnection) {
        connectQueue.append(connection)
    }

    private func startQueuedConnects() {
        while connectsInFlight < maximumConnectsInFlight && connectQueueHead < connectQueue.count {
            let connection = connectQueue[connectQueueHead]
            connectQueueHead += 1
            connection.startQueuedAttempt()
        }
        if connectQueueHead == connectQueue.count {
            connectQueue.removeAll(keepingCapacity: connectQueue.count < 4096)
            connectQueueHead = 0
        } else if connectQueueHead > 1024 && connectQueueHead * 2 > connectQueue.count {
            connectQueue.removeFirst(connectQueueHead)
            connectQueueHead = 0
        }
    }

    /// Disconnects every client and lets ``run()`` return once they are closed (loop thread only).
    func beginShutdown() {
        guard !shutdownRequested else { return }
        shutdownRequested = true
        shutdownDeadline = .now + .seconds(3)
        timers.removeAll()
        for connection in connections {
            // Free each client as soon as its DISCONNECT is out; run() returns when none is left.
            connection.disconnect { [self] in runOnNextTurn { connection.destroy() } }
        }
    }

    private func runPostedWork() {
        let work = inbox.withLock { inbox -> [@Sendable () -> Void] in
            inbox.wakeSignalled = false
            defer { inbox.work.removeAll(keepingCapacity: true) }
            return inbox.work
        }
        for item in work { item() }
    }

    private func runNextTurnWork() {
        while !nextTurnWork.isEmpty {
            let work = nextTurnWork
            nextTurnWork.removeAll()
            for item in work { item() }
        }
    }

    private func runDueTimers(now: ContinuousClock.Instant) {
        // Only timers already due when this turn started: one that re-arms itself for "now"
        // runs next turn, after I/O, instead of starving it.
        while let action = timers.popDue(now: now) { action() }
    }

    private func housekeeping(now: ContinuousClock.Instant) {
        for connection in connections { connection.housekeeping(now: now) }
        if let shutdownDeadline, now >= shutdownDeadline {
            // Clients whose DISCONNECT could not be written in time are closed anyway.
            for connection in connections { connection.destroy() }
            connections.removeAll()
        }
    }

    private func pollAndDispatch() {
        pollDescriptors.removeAll(keepingCapacity: true)
        polledConnections.removeAll(keepingCapacity: true)
        pollDescriptors.append(pollfd(fd: wakeReadDescriptor, events: Int16(POLLIN), revents: 0))
        for connection in connections {
            guard let interest = connection.pollInterest() else { continue }
            pollDescriptors.append(pollfd(fd: interest.descriptor, events: interest.events, revents: 0))
            polledConnections.append(connection)
        }
        let count = poll(&pollDescriptors, nfds_t(pollDescriptors.count), pollTimeoutMilliseconds())
        if count < 0 {
            let error = errno
            if error != EINTR {
                logger.error("poll() failed", metadata: ["mqtt.loop": "\(name)", "errno": "\(error)"])
            }
            return
        }
        guard count > 0 else { return }
        if pollDescriptors[0].revents != 0 { drainWakePipe() }
        for index in 1..<pollDescriptors.count {
            let descriptor = pollDescriptors[index]
            guard descriptor.revents != 0 else { continue }
            polledConnections[index - 1].handleReadiness(descriptor: descriptor.fd, events: descriptor.revents)
        }
    }

    /// `poll()` costs time for every socket, however few are ready: with thousands of clients
    /// the cost of a turn is nearly fixed, so under load the loop lets events gather for up to
    /// `batchingInterval` and handles them in one turn. An idle loop is not delayed: its turns
    /// already last longer than the interval.
    private func pace(turnStarted: ContinuousClock.Instant) {
        guard batchingInterval > .zero else { return }
        let remaining = batchingInterval - (ContinuousClock.now - turnStarted)
        guard remaining > .zero else { return }
        let parts = remaining.components
        var request = timespec(tv_sec: Int(parts.seconds), tv_nsec: Int(parts.attoseconds / 1_000_000_000))
        _ = nanosleep(&request, nil)
    }

    private func pollTimeoutMilliseconds() -> Int32 {
        if !nextTurnWork.isEmpty { return 0 }
        var deadline = nextHousekeeping
        if let timer = timers.nextDeadline, timer < deadline { deadline = timer }
        let remaining = deadline - .now
        if remaining <= .zero { return 0 }
        let parts = remaining.components
        // Round up: waking a hair early would only spin until the deadline.
        let milliseconds = parts.seconds * 1000 + (parts.attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: milliseconds)
    }

    private func drainWakePipe() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while read(wakeReadDescriptor, &buffer, buffer.count) > 0 {}
    }
}
