import Crypto
public import Logging
public import NIOCore
public import NIOPosix
import Synchronization

/// Authenticated TCP transport between the edge nodes of one site. It carries opaque message
/// bodies (`[UInt8]`; the caller puts encoded peer frames in them) and never interprets them.
///
/// ## Connections
/// Every node *dials* each configured peer for its own outbound traffic and *accepts*
/// connections for inbound traffic: a pair of nodes uses two one-way TCP connections, so there
/// is no tie-breaking. A dialer reconnects with capped exponential backoff (initial 100 ms,
/// doubling, at most 5 s, with jitter: each delay is drawn from `[d·(1−jitter), d]`); the delay
/// restarts from the initial value after a session was established. A new authenticated inbound
/// connection from a node replaces (closes) an older one from the same node, so a half-open
/// connection left by a crashed peer does not linger.
///
/// ## Sending
/// `send(_:to:)` never blocks: it appends to the peer's bounded queue (`sendQueueLimit` frames,
/// default 1,024) and returns false when the frame is dropped: queue full, body larger than
/// `maxFrameBytes`, unknown peer, or transport shut down (each counted in `statistics`). Frames
/// wait in the queue while the peer is unreachable and go out once a session is established.
/// Delivery is at most once, in order per pair: frames already handed to a connection that
/// then breaks may be lost (the protocols above tolerate loss; they must not assume delivery).
///
/// ## Receiving
/// `incoming` yields each authenticated body with its sender. It buffers at most
/// `incomingBufferLimit` bodies (default 4,096, `bufferingOldest`): when the consumer falls
/// that far behind, newer bodies are dropped and counted in `statistics.droppedIncoming`.
/// `events` yields `peerConnected`/`peerDisconnected` per node and direction (buffering the
/// newest 1,024 events).
///
/// ## Wire format
/// Every frame on the wire is `length (UInt32, big-endian) ‖ payload`, where the payload's first
/// byte is its type. The length is checked before the payload is buffered: at most
/// `PeerWire.maxHandshakePayload` (801) bytes until the connection has authenticated, then
/// `maxFrameBytes + 41`. A zero length is malformed. Names are UTF-8, 1–255 bytes; `len` is one
/// byte; the counter is a big-endian UInt64; every tag is HMAC-SHA256 (32 bytes); `K` is the
/// site key (at least 32 bytes) and the labels are ASCII without terminator.
///
/// 1. server → client, on accept, **challenge** (33 bytes): `0x01 ‖ serverNonce[32]`.
/// 2. client → server, **hello**: `F ‖ tag`, where
///    `F = 0x02 ‖ clientNonce[32] ‖ len ‖ site ‖ len ‖ from ‖ len ‖ to` and
///    `tag = HMAC(K, "fogline-peer-v1 hello" ‖ serverNonce ‖ F)`.
///    The server checks, in this order: well-formed (`bad_hello`), tag valid in constant time
///    (`unauthenticated`; checked first so a client without the key learns nothing), `site` is
///    its site and `to` is itself (`bad_hello`), `from` is a configured peer (`unknown_node`).
/// 3. server → client, **welcome** (33 bytes): `0x03 ‖ HMAC(K, "fogline-peer-v1 welcome" ‖
///    serverNonce ‖ F)`, so the client knows it reached a holder of the key (else `bad_welcome`).
///    Both sides derive `S = HMAC(K, "fogline-peer-v1 session" ‖ serverNonce ‖ F)`: the session
///    key binds both nonces and both names.
/// 4. client → server, **data** (any number): `D ‖ HMAC(S, D)` with
///    `D = 0x04 ‖ counter ‖ body`; the counter is 1 for the first data frame of a connection and
///    grows by exactly 1. The server verifies the tag (constant time, `bad_tag`), then the
///    counter (`bad_counter`): a replayed, reordered or skipped frame fails, and a frame recorded
///    on another connection fails its tag because that connection had other nonces.
///
/// The server sends nothing after the welcome and the client nothing but data frames; anything
/// else is `malformed`. The handshake must finish within `handshakeTimeout`
/// (`handshake_timeout`). A rejected frame is never delivered: the reason is counted in
/// `statistics.rejected`, logged (the first time per reason at warning, later at debug), and the
/// connection is closed; an honest peer reconnects. No encryption: bodies are authenticated,
/// not secret.
public final class PeerTransport: Sendable {
    public struct PeerAddress: Sendable, Hashable {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    public struct Configuration: Sendable {
        public var site: String
        public var node: String
        public var listenHost: String
        /// 0 picks a free port; see `boundPort`.
        public var listenPort: Int
        /// The other nodes of the site (not this one).
        public var peers: [String: PeerAddress]
        /// The site key's bytes (at least 32); the caller reads it from a file.
        public var siteKey: [UInt8]
        /// The largest body `send` accepts and a peer may send.
        public static let defaultMaxFrameBytes = 1 << 20
        public var maxFrameBytes = defaultMaxFrameBytes
        /// Frames queued per peer before `send` drops.
        public var sendQueueLimit = 1_024
        /// Bodies buffered in `incoming` before newer ones are dropped.
        public var incomingBufferLimit = 4_096
        public var initialBackoff: Duration = .milliseconds(100)
        public var maxBackoff: Duration = .seconds(5)
        /// Fraction (0…1) by which each backoff delay is randomly shortened.
        public var backoffJitter = 0.2
        public var handshakeTimeout: Duration = .seconds(5)
        public var connectTimeout: Duration = .seconds(2)
        /// Unauthenticated inbound connections held at once; more are closed at accept (`too_many_handshakes`).
        public var maxPendingHandshakes = 64

        public init(
            site: String, node: String, listenHost: String, listenPort: Int, peers: [String: PeerAddress], siteKey: [UInt8]
        ) {
            self.site = site
            self.node = node
            self.listenHost = listenHost
            self.listenPort = listenPort
            self.peers = peers
            self.siteKey = siteKey
        }

        func validate() throws(ConfigurationError) {
            guard siteKey.count >= 32 else { throw .invalid("the site key has \(siteKey.count) bytes; it needs at least 32") }
            for name in [site, node] + Array(peers.keys) where name.utf8.isEmpty || name.utf8.count > 255 {
                throw .invalid("site and node names must be 1 to 255 bytes of UTF-8: \"\(name)\"")
            }
            guard peers[node] == nil else { throw .invalid("the peer list names this node (\(node)) itself") }
            guard maxFrameBytes > 0, maxFrameBytes <= Int(UInt32.max) - PeerWire.dataOverhead else {
                throw .invalid("maxFrameBytes must be between 1 and \(Int(UInt32.max) - PeerWire.dataOverhead)")
            }
            guard sendQueueLimit > 0, incomingBufferLimit > 0, maxPendingHandshakes > 0 else {
                throw .invalid("queue limits must be positive")
            }
            guard initialBackoff > .zero, maxBackoff >= initialBackoff, (0...1).contains(backoffJitter) else {
                throw .invalid("backoff needs 0 < initial ≤ max and a jitter between 0 and 1")
            }
            guard handshakeTimeout > .zero, connectTimeout > .zero else { throw .invalid("timeouts must be positive") }
        }
    }

    public enum ConfigurationError: Error, CustomStringConvertible {
        case invalid(String)
        public var description: String {
            switch self { case .invalid(let message): "peer transport: \(message)" }
        }
    }

    public enum Direction: String, Sendable, Hashable {
        case outbound, inbound
    }

    public struct Received: Sendable, Equatable {
        public let from: String
        public let body: [UInt8]
        public init(from: String, body: [UInt8]) {
            self.from = from
            self.body = body
        }
    }

    public enum Event: Sendable, Hashable {
        case peerConnected(String, Direction)
        case peerDisconnected(String, Direction)
    }

    /// Why a frame was refused (the connection is then closed). Raw values are metric labels.
    public enum RejectReason: String, Sendable, Hashable, CaseIterable {
        /// Malformed hello, other site, or addressed to another node.
        case badHello = "bad_hello"
        case unknownNode = "unknown_node"
        /// A well-formed hello whose tag is wrong (wrong key, or tampered).
        case unauthenticated
        case badTag = "bad_tag"
        /// Replayed, reordered or skipped data frame.
        case badCounter = "bad_counter"
        /// A length prefix above the limit.
        case oversized
        /// Zero length, unknown type, or a frame the protocol does not allow here.
        case malformed
        /// The stream ended inside a frame.
        case truncated
        /// The client closed before finishing its hello.
        case handshakeIncomplete = "handshake_incomplete"
        case handshakeTimeout = "handshake_timeout"
        case tooManyHandshakes = "too_many_handshakes"
        /// Client side: the server's challenge or welcome was wrong (it does not hold the key).
        case badChallenge = "bad_challenge"
        case badWelcome = "bad_welcome"
    }

    public struct Statistics: Sendable, Equatable {
        /// Data frames written, per peer.
        public var sent: [String: Int] = [:]
        /// Authenticated data frames received, per peer.
        public var received: [String: Int] = [:]
        public var droppedQueueFull: [String: Int] = [:]
        public var droppedOversized: [String: Int] = [:]
        /// `send` to a node that is not a configured peer, or after shutdown.
        public var droppedUnroutable = 0
        /// Received bodies dropped because `incoming` was full.
        public var droppedIncoming = 0
        public var rejected: [RejectReason: Int] = [:]
        /// Outbound sessions established after the first, per peer.
        public var reconnects: [String: Int] = [:]
        /// Frames waiting in each peer's queue now.
        public var queued: [String: Int] = [:]

        public var rejectedTotal: Int { rejected.values.reduce(0, +) }
    }

    public let configuration: Configuration
    public let incoming: AsyncStream<Received>
    public let events: AsyncStream<Event>

    private let incomingContinuation: AsyncStream<Received>.Continuation
    private let eventsContinuation: AsyncStream<Event>.Continuation
    private let siteKey: SymmetricKey
    private let outboxes: [String: PeerOutbox]
    private let logger: Logger
    private let group: any EventLoopGroup
    private let state = Mutex(State())

    private struct State {
        var started = false
        var shutDown = false
        var boundPort: Int?
        var serverChannel: (any Channel)?
        var tasks: [Task<Void, Never>] = []
        var channels: [ObjectIdentifier: any Channel] = [:]
        var inboundSessions: [String: any Channel] = [:]
        var sessionsEstablished: [String: Int] = [:]
        var pendingHandshakes = 0
        var stats = Statistics()
        var loggedReasons: Set<RejectReason> = []
    }

    public init(
        configuration: Configuration, logger: Logger = Logger(label: "fogline.peer"),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        self.group = group
        siteKey = SymmetricKey(data: configuration.siteKey)
        outboxes = configuration.peers.mapValues { _ in PeerOutbox(limit: configuration.sendQueueLimit) }
        (incoming, incomingContinuation) = AsyncStream.makeStream(of: Received.self, bufferingPolicy: .bufferingOldest(configuration.incomingBufferLimit))
        (events, eventsContinuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(1_024))
    }

    /// The listener's port once `start()` has bound it.
    public var boundPort: Int? { state.withLock { $0.boundPort } }

    public var statistics: Statistics {
        var stats = state.withLock { $0.stats }
        for (node, outbox) in outboxes { stats.queued[node] = outbox.count }
        return stats
    }

    /// Binds the listener and starts a dialer per peer. Throws when the address cannot be bound.
    public func start() async throws {
        let alreadyStarted = state.withLock { state in
            defer { state.started = true }
            return state.started || state.shutDown
        }
        guard !alreadyStarted else { return }
        let server: NIOAsyncChannel<AcceptedChannel, Never>
        do {
            server = try await bind()
        } catch {
            state.withLock { $0.started = false }
            throw error
        }
        let port = server.channel.localAddress?.port ?? configuration.listenPort
        let accepting = Task {
            _ = try? await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await self.serveInbound(connection) }
                    }
                }
            }
        }
        let dialers = outboxes.map { node, outbox in
            Task { await self.runDialer(peer: node, address: configuration.peers[node]!, outbox: outbox) }
        }
        let closeNow = state.withLock { state in
            state.boundPort = port
            state.serverChannel = server.channel
            state.tasks = [accepting] + dialers
            return state.shutDown
        }
        logger.info(
            "peer transport listening",
            metadata: ["node": "\(configuration.node)", "address": "\(configuration.listenHost):\(port)", "peers": "\(configuration.peers.count)"])
        if closeNow { await shutdown() }
    }

    /// The accepted children are handed over as plain channels, not yet read from (autoRead off),
    /// and registered at once: a child accepted while the listener closes is then closed by
    /// `shutdown` instead of being dropped with an unfinished `NIOAsyncChannel` writer (which
    /// traps: swift-nio issues 2637/2813). `serveInbound` wraps it and turns reading on.
    private func bind() async throws -> NIOAsyncChannel<AcceptedChannel, Never> {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelOption(.autoRead, value: false)
            .bind(host: configuration.listenHost, port: configuration.listenPort) { child in
                child.eventLoop.makeCompletedFuture {
                    let limit = PeerFrameLimit(PeerWire.maxHandshakePayload)
                    try child.pipeline.syncOperations.addHandler(ByteToMessageHandler(PeerFrameDecoder(limit: limit)))
                    let closed = PeerOneShotFlag()
                    child.closeFuture.whenComplete { _ in closed.set() }
                    if !self.register(child) { child.close(promise: nil) }
                    return AcceptedChannel(channel: child, limit: limit, closed: closed)
                }
            }
    }

    /// Queues `body` for `node`; never blocks. False when the frame is dropped (counted).
    @discardableResult
    public func send(_ body: [UInt8], to node: String) -> Bool {
        guard let outbox = outboxes[node] else {
            state.withLock { $0.stats.droppedUnroutable += 1 }
            return false
        }
        guard body.count <= configuration.maxFrameBytes else {
            state.withLock { $0.stats.droppedOversized[node, default: 0] += 1 }
            return false
        }
        switch outbox.enqueue(body) {
        case .queued: return true
        case .full: state.withLock { $0.stats.droppedQueueFull[node, default: 0] += 1 }
        case .closed: state.withLock { $0.stats.droppedUnroutable += 1 }
        }
        return false
    }

    /// Closes the listener and every connection, stops the dialers, and finishes both streams.
    /// Queued frames are discarded.
    public func shutdown() async {
        let (tasks, channels, server) = state.withLock { state in
            state.shutDown = true
            defer { state.tasks = [] }
            return (state.tasks, Array(state.channels.values), state.serverChannel)
        }
        for outbox in outboxes.values { outbox.close() }
        for task in tasks { task.cancel() }
        try? await server?.close()
        for channel in channels { channel.close(promise: nil) }
        for task in tasks { await task.value }
        incomingContinuation.finish()
        eventsContinuation.finish()
    }

    // MARK: - Inbound

    private struct AcceptedChannel: Sendable {
        let channel: any Channel
        let limit: PeerFrameLimit
        /// Set on the event loop when the channel has closed (its pipeline is then torn down).
        let closed: PeerOneShotFlag
    }

    private func serveInbound(_ accepted: AcceptedChannel) async {
        let channel = accepted.channel
        let remote = channel.remoteAddress?.description ?? "?"
        defer { unregister(channel) }
        let admitted = state.withLock { state in
            guard state.pendingHandshakes < configuration.maxPendingHandshakes else { return false }
            state.pendingHandshakes += 1
            return true
        }
        guard admitted else {
            reject(.tooManyHandshakes, peer: nil, remote: remote)
            try? await channel.close()
            return
        }
        var pending = true
        func endHandshake() {
            if pending { state.withLock { $0.pendingHandshakes -= 1 } }
            pending = false
        }
        defer { endHandshake() }
        let connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            connection = try await channel.eventLoop.submit {
                // Wrapping a torn-down pipeline would fail after NIO created the writer, and
                // the unfinished writer traps in its deinit: only wrap a channel not yet closed.
                guard !accepted.closed.isSet else { throw ChannelError.ioOnClosedChannel }
                let wrapped = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                channel.setOption(.autoRead, value: true).whenFailure { _ in channel.close(promise: nil) }
                return wrapped
            }.get()
        } catch {
            channel.close(promise: nil)
            return
        }

        let timedOut = PeerOneShotFlag()
        let timer = channel.eventLoop.scheduleTask(in: TimeAmount(configuration.handshakeTimeout)) {
            timedOut.set()
            channel.close(promise: nil)
        }
        var peer: String?
        do {
            try await connection.executeThenClose { inbound, outbound in
                let serverNonce = PeerWire.randomNonce()
                try await outbound.write(ByteBuffer(bytes: PeerWire.frame(PeerWire.challenge(serverNonce: serverNonce))))
                var frames = inbound.makeAsyncIterator()
                guard let helloPayload = try await frames.next() else { throw PeerFrameError(reason: .handshakeIncomplete) }
                guard let parsed = PeerWire.Hello.parse(Array(helloPayload.readableBytesView)) else {
                    throw PeerFrameError(reason: .badHello)
                }
                let hello = parsed.hello
                // The tag first, so that a client without the key learns nothing about the configuration.
                guard hello.isValid(tag: parsed.tag, serverNonce: serverNonce, siteKey: siteKey) else {
                    throw PeerFrameError(reason: .unauthenticated)
                }
                guard hello.site == configuration.site, hello.to == configuration.node else { throw PeerFrameError(reason: .badHello) }
                guard outboxes[hello.from] != nil else { throw PeerFrameError(reason: .unknownNode) }
                timer.cancel()
                endHandshake()
                accepted.limit.raise(to: configuration.maxFrameBytes + PeerWire.dataOverhead)
                try await outbound.write(ByteBuffer(bytes: PeerWire.frame(hello.welcome(serverNonce: serverNonce, siteKey: siteKey))))
                let sessionKey = hello.sessionKey(serverNonce: serverNonce, siteKey: siteKey)
                peer = hello.from
                inboundSessionStarted(hello.from, channel: channel)
                var expected: UInt64 = 1
                while let payload = try await frames.next() {
                    let body: [UInt8]
                    do {
                        body = try payload.withUnsafeReadableBytes { bytes in
                            try PeerWire.openData(bytes, expectedCounter: expected, sessionKey: sessionKey)
                        }
                    } catch PeerWire.DataError.badTag {
                        throw PeerFrameError(reason: .badTag)
                    } catch PeerWire.DataError.badCounter {
                        throw PeerFrameError(reason: .badCounter)
                    } catch {
                        throw PeerFrameError(reason: .malformed)
                    }
                    expected += 1
                    deliver(body, from: hello.from)
                }
            }
        } catch {
            let reason: RejectReason? =
                if peer == nil && timedOut.isSet { .handshakeTimeout } else { (error as? PeerFrameError)?.reason }
            if let reason {
                reject(reason, peer: peer, remote: remote)
            } else if !isShutDown {
                logger.debug("peer connection failed", metadata: ["peer": "\(peer ?? "?")", "remote": "\(remote)", "error": "\(error)"])
            }
        }
        timer.cancel()
        if let peer { inboundSessionEnded(peer, channel: channel) }
    }

    private func deliver(_ body: [UInt8], from peer: String) {
        let dropped: Bool
        switch incomingContinuation.yield(Received(from: peer, body: body)) {
        case .dropped: dropped = true
        default: dropped = false
        }
        state.withLock { state in
            state.stats.received[peer, default: 0] += 1
            if dropped { state.stats.droppedIncoming += 1 }
        }
    }

    private func inboundSessionStarted(_ peer: String, channel: any Channel) {
        let replaced = state.withLock { state in
            let old = state.inboundSessions[peer]
            state.inboundSessions[peer] = channel
            return old
        }
        replaced?.close(promise: nil)
        logger.info("peer connected", metadata: ["peer": "\(peer)", "direction": "inbound"])
        eventsContinuation.yield(.peerConnected(peer, .inbound))
    }

    private func inboundSessionEnded(_ peer: String, channel: any Channel) {
        let current = state.withLock { state in
            guard let registered = state.inboundSessions[peer], registered === channel else { return false }
            state.inboundSessions[peer] = nil
            return true
        }
        // A replaced session ends quietly: the newer one is the peer's live connection.
        guard current else { return }
        logger.info("peer disconnected", metadata: ["peer": "\(peer)", "direction": "inbound"])
        eventsContinuation.yield(.peerDisconnected(peer, .inbound))
    }

    // MARK: - Outbound

    private func runDialer(peer: String, address: PeerAddress, outbox: PeerOutbox) async {
        var failures = 0
        while !Task.isCancelled && !isShutDown {
            if await dialOnce(peer: peer, address: address, outbox: outbox, failures: failures) {
                failures = 0
            }
            guard !Task.isCancelled && !isShutDown else { break }
            let delay = backoff(failures: failures)
            failures += 1
            try? await Task.sleep(for: delay)
        }
    }

    func backoff(failures: Int) -> Duration {
        var delay = configuration.initialBackoff
        for _ in 0..<min(failures, 32) where delay < configuration.maxBackoff { delay *= 2 }
        delay = min(delay, configuration.maxBackoff)
        return delay * (1 - Double.random(in: 0...configuration.backoffJitter))
    }

    /// One connection attempt; true when a session was established.
    private func dialOnce(peer: String, address: PeerAddress, outbox: PeerOutbox, failures: Int) async -> Bool {
        let connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            connection = try await ClientBootstrap(group: group)
                .connectTimeout(TimeAmount(configuration.connectTimeout))
                .channelOption(.socketOption(.so_keepalive), value: 1)
                .connect(host: address.host, port: address.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(PeerFrameDecoder(limit: PeerFrameLimit(PeerWire.maxHandshakePayload))))
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            let metadata: Logger.Metadata = ["peer": "\(peer)", "address": "\(address.host):\(address.port)", "error": "\(error)"]
            if failures == 0 { logger.info("peer unreachable; retrying with backoff", metadata: metadata) }
            else { logger.debug("peer unreachable", metadata: metadata) }
            return false
        }
        let channel = connection.channel
        guard register(channel) else {
            // Shut down meanwhile. (Close through executeThenClose: an NIOAsyncChannel dropped
            // without it traps in its writer's deinit.)
            try? await connection.executeThenClose { _, _ in }
            return false
        }
        defer { unregister(channel) }
        let timedOut = PeerOneShotFlag()
        let timer = channel.eventLoop.scheduleTask(in: TimeAmount(configuration.handshakeTimeout)) {
            timedOut.set()
            channel.close(promise: nil)
        }
        var established = false
        do {
            try await connection.executeThenClose { inbound, outbound in
                var frames = inbound.makeAsyncIterator()
                guard let challengePayload = try await frames.next() else { throw PeerFrameError(reason: .badChallenge) }
                guard let serverNonce = PeerWire.parseChallenge(Array(challengePayload.readableBytesView)) else {
                    throw PeerFrameError(reason: .badChallenge)
                }
                let hello = PeerWire.Hello(
                    site: configuration.site, from: configuration.node, to: peer, clientNonce: PeerWire.randomNonce())
                try await outbound.write(ByteBuffer(bytes: PeerWire.frame(hello.encode(serverNonce: serverNonce, siteKey: siteKey))))
                guard let welcome = try await frames.next() else { throw PeerFrameError(reason: .badWelcome) }
                guard hello.isValidWelcome(Array(welcome.readableBytesView), serverNonce: serverNonce, siteKey: siteKey) else {
                    throw PeerFrameError(reason: .badWelcome)
                }
                timer.cancel()
                established = true
                let sessionKey = hello.sessionKey(serverNonce: serverNonce, siteKey: siteKey)
                outboundSessionStarted(peer)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        var counter: UInt64 = 0
                        do {
                            while let batch = await outbox.take(maxFrames: 64) {
                                var buffers: [ByteBuffer] = []
                                buffers.reserveCapacity(batch.count)
                                for body in batch {
                                    counter += 1
                                    buffers.append(Self.dataFrame(counter: counter, body: body, sessionKey: sessionKey, allocator: channel.allocator))
                                }
                                try await outbound.write(contentsOf: buffers)
                                self.state.withLock { $0.stats.sent[peer, default: 0] += batch.count }
                            }
                        } catch {
                            channel.close(promise: nil)
                            throw error
                        }
                        channel.close(promise: nil)
                    }
                    // The server says nothing after its welcome: read only to notice the close.
                    defer { group.cancelAll() }
                    while try await frames.next() != nil { throw PeerFrameError(reason: .malformed) }
                }
            }
        } catch {
            let reason: RejectReason? =
                if !established && timedOut.isSet { .handshakeTimeout } else { (error as? PeerFrameError)?.reason }
            if let reason, !isShutDown {
                reject(reason, peer: peer, remote: "\(address.host):\(address.port)")
            } else if !isShutDown {
                logger.debug("peer connection failed", metadata: ["peer": "\(peer)", "error": "\(error)"])
            }
        }
        timer.cancel()
        if established {
            logger.info("peer disconnected", metadata: ["peer": "\(peer)", "direction": "outbound"])
            eventsContinuation.yield(.peerDisconnected(peer, .outbound))
        }
        return established
    }

    /// A whole data frame (length prefix included) built in one buffer, the body copied once.
    static func dataFrame(counter: UInt64, body: [UInt8], sessionKey: SymmetricKey, allocator: ByteBufferAllocator) -> ByteBuffer {
        let payloadLength = PeerWire.dataOverhead + body.count
        var buffer = allocator.buffer(capacity: 4 + payloadLength)
        buffer.writeInteger(UInt32(payloadLength))
        buffer.writeInteger(PeerWire.dataType)
        buffer.writeInteger(counter)
        buffer.writeBytes(body)
        let tag = buffer.withUnsafeReadableBytes { bytes in
            HMAC<SHA256>.authenticationCode(for: UnsafeRawBufferPointer(rebasing: bytes[4...]), using: sessionKey)
        }
        _ = tag.withUnsafeBytes { buffer.writeBytes($0) }
        return buffer
    }

    private func outboundSessionStarted(_ peer: String) {
        let reconnect = state.withLock { state in
            state.sessionsEstablished[peer, default: 0] += 1
            let reconnect = state.sessionsEstablished[peer]! > 1
            if reconnect { state.stats.reconnects[peer, default: 0] += 1 }
            return reconnect
        }
        logger.info("peer connected", metadata: ["peer": "\(peer)", "direction": "outbound", "reconnect": "\(reconnect)"])
        eventsContinuation.yield(.peerConnected(peer, .outbound))
    }

    // MARK: - Bookkeeping

    private var isShutDown: Bool { state.withLock { $0.shutDown } }

    /// Tracks a live channel so that `shutdown` can close it; false when already shut down.
    private func register(_ channel: any Channel) -> Bool {
        state.withLock { state in
            guard !state.shutDown else { return false }
            state.channels[ObjectIdentifier(channel)] = channel
            return true
        }
    }

    private func unregister(_ channel: any Channel) {
        _ = state.withLock { $0.channels.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    private func reject(_ reason: RejectReason, peer: String?, remote: String) {
        let first = state.withLock { state in
            state.stats.rejected[reason, default: 0] += 1
            return state.loggedReasons.insert(reason).inserted
        }
        let metadata: Logger.Metadata = [
            "reason": "\(reason.rawValue)", "peer": "\(peer ?? "?")", "remote": "\(remote)",
        ]
        if first {
            logger.warning("rejected a peer frame and closed the connection (later rejections of this kind log at debug)", metadata: metadata)
        } else {
            logger.debug("rejected a peer frame and closed the connection", metadata: metadata)
        }
    }
}

/// Set once, read from any thread (the handshake timer and the connection task).
final class PeerOneShotFlag: Sendable {
    private let value = Atomic(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}
