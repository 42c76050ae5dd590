import Crypto
@testable import FoglineEdge
import FoglineTesting
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// Real sockets on 127.0.0.1. Conditions are awaited by polling with a deadline; no timing is asserted.
@Suite("Peer transport", .timeLimit(.minutes(2)))
struct PeerTransportTests {
    static let site = "site-1"
    static let key = (0..<32).map { UInt8($0 &* 7 &+ 3) }

    // MARK: - Honest peers

    @Test("three nodes exchange frames both ways, in order per pair; a frame at the size limit arrives intact")
    func threeNodes() async throws {
        let names = ["a", "b", "c"]
        let ports = try await freePorts(3)
        let addresses = Dictionary(uniqueKeysWithValues: zip(names, ports))
        let transports = try names.map { name in
            try makeTransport(name, port: addresses[name]!, peers: addresses.filter { $0.key != name })
        }
        let inboxes = transports.map { PeerStreamDrain($0.incoming) }
        for transport in transports { try await transport.start() }

        let perPair = 300
        let large = (0..<PeerTransport.Configuration.defaultMaxFrameBytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 5) }
        for index in 0..<perPair {
            for (from, transport) in zip(names, transports) {
                for to in names where to != from {
                    #expect(transport.send(Array("\(from)>\(to)#\(index)".utf8), to: to))
                    if index == perPair / 2 { #expect(transport.send(large, to: to)) }
                }
            }
        }
        #expect(transports[0].send(large + [0], to: "b") == false)
        #expect(transports[0].send([1], to: "nobody") == false)
        for (name, inbox) in zip(names, inboxes) {
            #expect(await pollUntil { inbox.count >= 2 * (perPair + 1) }, "node \(name) got \(inbox.count)")
        }
        for (to, inbox) in zip(names, inboxes) {
            let received = inbox.items
            for from in names where from != to {
                var expected = (0..<perPair).map { Array("\(from)>\(to)#\($0)".utf8) }
                expected.insert(large, at: perPair / 2 + 1)
                #expect(received.filter { $0.from == from }.map(\.body) == expected, "\(from) → \(to)")
            }
        }
        let stats = transports[0].statistics
        #expect(stats.sent["b"] == perPair + 1 && stats.received["c"] == perPair + 1)
        #expect(stats.droppedOversized["b"] == 1 && stats.droppedUnroutable == 1 && stats.rejected.isEmpty)
        for transport in transports { await transport.shutdown() }
    }

    @Test("a peer that starts late or restarts gets the frames queued meanwhile; beyond the queue limit they are dropped and counted")
    func lateStartAndRestart() async throws {
        let ports = try await freePorts(2)
        let limit = 50
        let a = try makeTransport("a", port: ports[0], peers: ["b": ports[1]]) { $0.sendQueueLimit = limit }
        let aEvents = PeerStreamDrain(a.events)
        try await a.start()

        for index in 0..<(limit + 10) {
            #expect(a.send(Array("early-\(index)".utf8), to: "b") == (index < limit))
        }
        #expect(a.statistics.droppedQueueFull["b"] == 10 && a.statistics.queued["b"] == limit)

        let b1 = try makeTransport("b", port: ports[1], peers: ["a": ports[0]])
        let b1Inbox = PeerStreamDrain(b1.incoming)
        try await b1.start()
        #expect(await pollUntil { b1Inbox.count >= limit })
        #expect(b1Inbox.items.map(\.body) == (0..<limit).map { Array("early-\($0)".utf8) })
        #expect(b1Inbox.items.allSatisfy { $0.from == "a" })

        await b1.shutdown()
        #expect(await pollUntil { aEvents.items.contains(.peerDisconnected("b", .outbound)) })
        for index in 0..<20 { #expect(a.send(Array("late-\(index)".utf8), to: "b")) }

        let b2 = try makeTransport("b", port: ports[1], peers: ["a": ports[0]])
        let b2Inbox = PeerStreamDrain(b2.incoming)
        try await b2.start()
        #expect(await pollUntil { b2Inbox.count >= 20 })
        #expect(b2Inbox.items.map(\.body) == (0..<20).map { Array("late-\($0)".utf8) })
        let stats = a.statistics
        #expect(stats.sent["b"] == limit + 20 && stats.droppedQueueFull["b"] == 10 && (stats.reconnects["b"] ?? 0) >= 1)
        #expect(aEvents.items.filter { $0 == .peerConnected("b", .outbound) }.count >= 2)
        await a.shutdown()
        await b2.shutdown()
    }

    // MARK: - Hostile peers

    @Test("hostile clients: wrong key, unknown node, tampering, replay, oversized, garbage, early close, timeout; honest delivery continues")
    func hostileClients() async throws {
        let ports = try await freePorts(2)  // a listens on ports[0]; ports[1] is c's address (nothing listens)
        let b = try makeTransport("b", port: 0, peers: ["a": ports[0], "c": ports[1]]) {
            $0.handshakeTimeout = .seconds(1)
            $0.maxFrameBytes = 4_096
            $0.maxPendingHandshakes = 2
        }
        let inbox = PeerStreamDrain(b.incoming)
        let bEvents = PeerStreamDrain(b.events)
        try await b.start()
        let bPort = try #require(b.boundPort)
        let a = try makeTransport("a", port: ports[0], peers: ["b": bPort])
        try await a.start()
        #expect(a.send(Array("before".utf8), to: "b"))
        #expect(await pollUntil { inbox.count == 1 })
        // The honest link up both ways before the hostile clients: its handshakes, which b's 1 s
        // handshake timeout can cut short on a loaded machine (a rejection, then a retry), are
        // over, and every rejection counted from here on is one of the hostile connections'.
        #expect(await pollUntil { Set(bEvents.items).isSuperset(of: [.peerConnected("a", .inbound), .peerConnected("a", .outbound)]) })
        let honest = b.statistics.rejected
        /// Rejections since the honest link came up.
        func hostileRejections() -> [PeerTransport.RejectReason: Int] {
            b.statistics.rejected.merging(honest) { $0 - $1 }.filter { $0.value != 0 }
        }

        func expectRejected(_ reason: PeerTransport.RejectReason, _ count: Int = 1, sourceLocation: SourceLocation = #_sourceLocation) async {
            let ok = await pollUntil { hostileRejections()[reason] == count }
            #expect(ok, "rejected[\(reason)] = \(hostileRejections()[reason] ?? 0), want \(count)", sourceLocation: sourceLocation)
        }

        // Wrong key: the hello's tag is refused; no welcome, the connection is closed.
        try await raw(bPort) { conn in
            let session = try await conn.handshake(from: "c", key: (0..<32).map { _ in 9 })
            #expect(session == nil)
            try await conn.expectClosedByServer()
        }
        await expectRejected(.unauthenticated)

        // A node the site does not list, and another site, even with the right key.
        try await raw(bPort) { conn in
            let session = try await conn.handshake(from: "mallory")
            #expect(session == nil)
            try await conn.expectClosedByServer()
        }
        await expectRejected(.unknownNode)
        try await raw(bPort) { conn in
            let session = try await conn.handshake(from: "c", site: "other-site")
            #expect(session == nil)
            try await conn.expectClosedByServer()
        }
        await expectRejected(.badHello)

        // A valid session; then one flipped byte in a data frame.
        try await raw(bPort) { conn in
            let session = try await conn.requireSession(from: "c")
            try await conn.write(PeerWire.frame(PeerWire.data(counter: 1, body: Array("ok-1".utf8), sessionKey: session)))
            var tampered = PeerWire.frame(PeerWire.data(counter: 2, body: Array("ok-2".utf8), sessionKey: session))
            tampered[4 + 9] ^= 0x01
            try await conn.write(tampered)
            try await conn.expectClosedByServer()
        }
        await expectRejected(.badTag)
        #expect(await pollUntil { inbox.count == 2 })

        // The same frame twice on one connection (same counter): the second is refused.
        var recorded: [UInt8] = []
        try await raw(bPort) { conn in
            let session = try await conn.requireSession(from: "c")
            recorded = PeerWire.frame(PeerWire.data(counter: 1, body: Array("ok-3".utf8), sessionKey: session))
            try await conn.write(recorded)
            try await conn.write(recorded)
            try await conn.expectClosedByServer()
        }
        await expectRejected(.badCounter)

        // That recorded frame on a new, validly authenticated connection: other nonces, bad tag.
        try await raw(bPort) { conn in
            try await conn.requireSession(from: "c")
            try await conn.write(recorded)
            try await conn.expectClosedByServer()
        }
        await expectRejected(.badTag, 2)

        // Length prefixes above the limit, before and after authenticating: refused on the prefix alone.
        try await raw(bPort) { conn in
            _ = try await conn.readFrame()
            try await conn.write([0xFF, 0xFF, 0xFF, 0xF0])
            try await conn.expectClosedByServer()
        }
        await expectRejected(.oversized)
        try await raw(bPort) { conn in
            try await conn.requireSession(from: "c")
            let tooLong = UInt32(4_096 + PeerWire.dataOverhead + 1)
            try await conn.write([UInt8(tooLong >> 24), UInt8(tooLong >> 16 & 0xFF), UInt8(tooLong >> 8 & 0xFF), UInt8(tooLong & 0xFF)])
            try await conn.expectClosedByServer()
        }
        await expectRejected(.oversized, 2)

        // Garbage: a framed hello that is not one, and a zero length.
        try await raw(bPort) { conn in
            _ = try await conn.readFrame()
            try await conn.write(PeerWire.frame([0x02, 0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4]))
            try await conn.expectClosedByServer()
        }
        await expectRejected(.badHello, 2)
        try await raw(bPort) { conn in
            _ = try await conn.readFrame()
            try await conn.write([0, 0, 0, 0, 0x47, 0x45, 0x54])
            try await conn.expectClosedByServer()
        }
        await expectRejected(.malformed)

        // Early close before the hello; a frame cut off by the close; silence until the timeout.
        try await raw(bPort) { conn in _ = try await conn.readFrame() }
        await expectRejected(.handshakeIncomplete)
        try await raw(bPort) { conn in
            try await conn.requireSession(from: "c")
            try await conn.write([0, 0, 0, 100] + Array(repeating: 1, count: 10))
        }
        await expectRejected(.truncated)
        try await raw(bPort) { conn in
            _ = try await conn.readFrame()
            try await conn.expectClosedByServer()
        }
        await expectRejected(.handshakeTimeout)

        // More unauthenticated connections at once than allowed: the third is closed without a challenge.
        try await raw(bPort) { first in
            _ = try await first.readFrame()
            try await raw(bPort) { second in
                _ = try await second.readFrame()
                try await raw(bPort) { third in
                    let challenge = try await third.readFrame()
                    #expect(challenge == nil)
                }
            }
        }
        await expectRejected(.tooManyHandshakes)
        await expectRejected(.handshakeIncomplete, 3)  // the first two, closed before their hello

        // Only the two authentic frames of the hostile sessions were delivered, and honest traffic still flows.
        #expect(a.send(Array("after".utf8), to: "b"))
        #expect(await pollUntil { inbox.count == 4 })
        #expect(inbox.items.map { "\($0.from):\(String(decoding: $0.body, as: UTF8.self))" } == ["a:before", "c:ok-1", "c:ok-3", "a:after"])
        #expect(b.statistics.received == ["a": 2, "c": 2])
        // Each hostile connection was rejected once, for its own reason, and nothing else was.
        let expected: [PeerTransport.RejectReason: Int] = [
            .unauthenticated: 1, .unknownNode: 1, .badHello: 2, .badTag: 2, .badCounter: 1, .oversized: 2, .malformed: 1,
            .handshakeIncomplete: 3, .truncated: 1, .handshakeTimeout: 1, .tooManyHandshakes: 1,
        ]
        #expect(hostileRejections() == expected)
        await a.shutdown()
        await b.shutdown()
    }

    // MARK: - Shutdown, wire format, backoff

    @Test("shutdown completes with sessions, a half-done handshake and arriving connections open; streams finish; send then drops")
    func shutdownWithOpenConnections() async throws {
        let ports = try await freePorts(2)
        let a = try makeTransport("a", port: ports[0], peers: ["b": ports[1]])
        let b = try makeTransport("b", port: ports[1], peers: ["a": ports[0]])
        let aEvents = PeerStreamDrain(a.events)
        let bInbox = PeerStreamDrain(b.incoming)
        try await a.start()
        try await b.start()
        #expect(await pollUntil {
            Set(aEvents.items) == [.peerConnected("b", .outbound), .peerConnected("b", .inbound)]
        })
        let lingering = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: ports[1]).get()
        for index in 0..<100 { a.send([UInt8(index)], to: "b") }
        // Connections still arriving while the listener closes (accepted, not yet served).
        let arriving = Task {
            var channels: [any Channel] = []
            for _ in 0..<40 {
                if let channel = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connect(host: "127.0.0.1", port: ports[1]).get()
                {
                    channels.append(channel)
                }
            }
            return channels
        }
        await b.shutdown()
        for channel in await arriving.value { try? await channel.close() }
        await a.shutdown()
        #expect(a.send([1], to: "b") == false)
        await bInbox.finished()
        await aEvents.finished()
        try? await lingering.close()
    }

    @Test("wire format: challenge, hello, welcome and data payloads as documented")
    func wireFormat() throws {
        let key = SymmetricKey(data: Self.key)
        let serverNonce = PeerWire.randomNonce()
        #expect(serverNonce.count == 32 && serverNonce != PeerWire.randomNonce())
        let challenge = PeerWire.frame(PeerWire.challenge(serverNonce: serverNonce))
        #expect(challenge.prefix(5) == [0, 0, 0, 33, 0x01] && Array(challenge.dropFirst(5)) == serverNonce)

        let hello = PeerWire.Hello(site: "s", from: "ab", to: "c", clientNonce: PeerWire.randomNonce())
        let payload = hello.encode(serverNonce: serverNonce, siteKey: key)
        #expect(payload.count == 1 + 32 + (1 + 1) + (1 + 2) + (1 + 1) + 32)
        #expect(Array(payload[33..<40]) == [1, 0x73, 2, 0x61, 0x62, 1, 0x63])
        let expectedTag = Array(HMAC<SHA256>.authenticationCode(
            for: Array("fogline-peer-v1 hello".utf8) + serverNonce + payload.dropLast(32), using: key))
        #expect(Array(payload.suffix(32)) == expectedTag)
        let parsed = try #require(PeerWire.Hello.parse(payload))
        #expect(parsed.hello == hello && parsed.hello.isValid(tag: parsed.tag, serverNonce: serverNonce, siteKey: key))
        #expect(!parsed.hello.isValid(tag: parsed.tag, serverNonce: PeerWire.randomNonce(), siteKey: key))
        #expect(hello.isValidWelcome(hello.welcome(serverNonce: serverNonce, siteKey: key), serverNonce: serverNonce, siteKey: key))

        let session = hello.sessionKey(serverNonce: serverNonce, siteKey: key)
        let data = PeerWire.data(counter: 258, body: [9, 8, 7], sessionKey: session)
        #expect(Array(data.prefix(12)) == [0x04, 0, 0, 0, 0, 0, 0, 1, 2, 9, 8, 7] && data.count == 12 + 32)
        let built = PeerTransport.dataFrame(counter: 258, body: [9, 8, 7], sessionKey: session, allocator: ByteBufferAllocator())
        #expect(Array(built.readableBytesView) == PeerWire.frame(data))
        let body = try data.withUnsafeBytes { try PeerWire.openData($0, expectedCounter: 258, sessionKey: session) }
        #expect(body == [9, 8, 7])
        #expect(throws: PeerWire.DataError.badCounter) {
            try data.withUnsafeBytes { try PeerWire.openData($0, expectedCounter: 259, sessionKey: session) }
        }
        #expect(throws: PeerWire.DataError.badTag) {
            try data.withUnsafeBytes { try PeerWire.openData($0, expectedCounter: 258, sessionKey: key) }
        }
    }

    @Test("configuration is validated; backoff doubles from the initial delay up to the cap, shortened by jitter")
    func configurationAndBackoff() throws {
        #expect(throws: PeerTransport.ConfigurationError.self) {
            try PeerTransport(configuration: .init(site: "s", node: "a", listenHost: "127.0.0.1", listenPort: 0, peers: [:], siteKey: [1, 2, 3]))
        }
        #expect(throws: PeerTransport.ConfigurationError.self) {
            try makeTransport("a", port: 0, peers: ["a": 1])
        }
        let transport = try makeTransport("a", port: 0, peers: [:]) {
            $0.initialBackoff = .milliseconds(100)
            $0.maxBackoff = .seconds(5)
        }
        for (failures, nominal) in [(0, 100), (1, 200), (3, 800), (5, 3_200), (6, 5_000), (40, 5_000)] {
            for _ in 0..<20 {
                let delay = transport.backoff(failures: failures)
                #expect(delay <= .milliseconds(nominal) && delay >= .milliseconds(nominal) * 0.8)
            }
        }
    }

    // MARK: - Helpers

    func makeTransport(
        _ node: String, port: Int, peers: [String: Int], _ adjust: (inout PeerTransport.Configuration) -> Void = { _ in }
    ) throws -> PeerTransport {
        var configuration = PeerTransport.Configuration(
            site: Self.site, node: node, listenHost: "127.0.0.1", listenPort: port,
            peers: peers.mapValues { PeerTransport.PeerAddress(host: "127.0.0.1", port: $0) }, siteKey: Self.key)
        configuration.initialBackoff = .milliseconds(20)
        configuration.maxBackoff = .milliseconds(200)
        adjust(&configuration)
        var logger = Logger(label: "fogline.peer.\(node)")
        logger.logLevel = .error  // rejections are what these tests provoke; they are counted and checked
        return try PeerTransport(configuration: configuration, logger: logger)
    }

    /// Ports free for the transports a test starts (see ``MosquittoProcess/freeLoopbackPort()``).
    func freePorts(_ count: Int) async throws -> [Int] {
        try (0..<count).map { _ in try MosquittoProcess.freeLoopbackPort() }
    }

    /// Runs `body` on a raw TCP connection to `port` (no framing help), then closes it.
    func raw(_ port: Int, _ body: (inout RawPeerConnection) async throws -> Void) async throws {
        try await RawPeerConnection.with(port: port, body)
    }
}

/// A hand-driven client: reads and writes raw bytes, and speaks the handshake by the documented layout.
struct RawPeerConnection {
    var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    var pending: [UInt8] = []

    /// Runs `body` on a raw TCP connection to `port` on 127.0.0.1, then closes it.
    static func with(port: Int, _ body: (inout RawPeerConnection) async throws -> Void) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        try await channel.executeThenClose { inbound, outbound in
            var connection = RawPeerConnection(inbound: inbound.makeAsyncIterator(), outbound: outbound)
            try await body(&connection)
        }
    }

    mutating func read(_ count: Int) async throws -> [UInt8]? {
        while pending.count < count {
            guard let buffer = try await inbound.next() else { return nil }
            pending += buffer.readableBytesView
        }
        defer { pending.removeFirst(count) }
        return Array(pending.prefix(count))
    }

    mutating func readFrame() async throws -> [UInt8]? {
        guard let prefix = try await read(4) else { return nil }
        return try await read(prefix.reduce(0) { $0 << 8 | Int($1) })
    }

    func write(_ bytes: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    /// Writes bytes the server is expected to refuse by closing the connection. It may close
    /// before they are all written (having read enough to refuse them): that is the outcome the
    /// caller checks next with ``expectClosedByServer(sourceLocation:)``, not a failure.
    func writeRefused(_ bytes: [UInt8]) async {
        try? await outbound.write(ByteBuffer(bytes: bytes))
    }

    /// True once the server has closed (reset counts as closed); false if it sends more bytes.
    mutating func closedByServer() async throws -> Bool {
        do {
            return try await inbound.next() == nil
        } catch {
            return true
        }
    }

    mutating func expectClosedByServer(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let closed = try await closedByServer()
        #expect(closed, "the server should have closed the connection", sourceLocation: sourceLocation)
    }

    @discardableResult
    mutating func requireSession(
        from: String, to: String = "b", site: String = PeerTransportTests.site, key: [UInt8] = PeerTransportTests.key,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> SymmetricKey {
        let session = try await handshake(from: from, to: to, site: site, key: key)
        return try #require(session, "the server should welcome a valid hello", sourceLocation: sourceLocation)
    }

    /// Reads the challenge, sends a hello; returns the session key if the server welcomes us.
    mutating func handshake(
        from: String, to: String = "b", site: String = PeerTransportTests.site, key: [UInt8] = PeerTransportTests.key
    ) async throws -> SymmetricKey? {
        let challenge = try await readFrame()
        let serverNonce = try #require(challenge.flatMap(PeerWire.parseChallenge))
        let hello = PeerWire.Hello(site: site, from: from, to: to, clientNonce: PeerWire.randomNonce())
        let siteKey = SymmetricKey(data: key)
        try await write(PeerWire.frame(hello.encode(serverNonce: serverNonce, siteKey: siteKey)))
        do {
            guard let welcome = try await readFrame(), hello.isValidWelcome(welcome, serverNonce: serverNonce, siteKey: siteKey) else {
                return nil
            }
        } catch {
            return nil
        }
        return hello.sessionKey(serverNonce: serverNonce, siteKey: siteKey)
    }
}

/// Drains an AsyncStream into an array that tests can poll.
final class PeerStreamDrain<Element: Sendable>: Sendable {
    private final class Box: Sendable {
        let items = Mutex<[Element]>([])
    }

    private let box = Box()
    private let task: Task<Void, Never>

    init<Stream: AsyncSequence<Element, Never> & Sendable>(_ stream: Stream) {
        let box = box
        task = Task {
            for await item in stream { box.items.withLock { $0.append(item) } }
        }
    }

    var items: [Element] { box.items.withLock { $0 } }
    var count: Int { box.items.withLock { $0.count } }
    /// Returns once the stream has finished.
    func finished() async { await task.value }
}

