public import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A fault-injecting TCP proxy on loopback for real-process tests: it listens on its own port and
/// forwards every connection to `127.0.0.1:targetPort`, and can be switched at any time to
///
/// - `.pass`: forward bytes both ways;
/// - `.drop` (a blackhole): connections stay open and new ones are accepted, but nothing is read
///   or forwarded, so bytes wait in the socket buffers like packets TCP keeps retransmitting
///   across a partition (they are delivered, late and in order, if the link passes again);
/// - `.cut`: every connection is closed, and new ones are reset as soon as they are accepted
///   (the listening socket keeps its port, so no other test can take it meanwhile).
///
/// The proxy's own connections to the target come from 127.0.0.2, so they never hold a port
/// on 127.0.0.1 that another test picked as free and is about to bind.
///
/// One proxy per *directed* link: put it in front of node Y's peer listener and give it to node
/// X only (`--peer Y=127.0.0.1:<proxy port>`); since each node dials its peers for its own
/// outbound traffic, blocking that proxy stops X→Y and leaves Y→X alone (a one-way partition).
///
/// A single thread runs a `poll(2)` loop over the listener and all connections (non-blocking
/// sockets, `MSG_NOSIGNAL` so a peer that went away never raises SIGPIPE in the test process).
/// The thread keeps the proxy alive: call `stop()` when done.
public final class FaultProxy: @unchecked Sendable {
    public enum Mode: String, Sendable, CustomStringConvertible {
        case pass, drop, cut
        public var description: String { rawValue }
    }

    public enum Failure: Error { case socket(String, Int32) }

    /// The port the proxy listens on (127.0.0.1).
    public let port: Int
    /// Where it forwards to (127.0.0.1).
    public let targetPort: Int
    public let name: String

    private let lock = NSLock()
    private var wantedMode: Mode = .pass
    /// Mode changes asked for, and seen by the loop.
    private var requested = 0
    private var applied = 0
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)
    private let listener: Int32

    public init(name: String = "proxy", targetPort: Int) throws {
        self.name = name
        self.targetPort = targetPort
        let (fd, port) = try Self.listen()
        listener = fd
        self.port = port
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "FaultProxy \(name)"
        thread.start()
    }

    /// Setting it returns once the proxy acts in the new mode (cut: once the connections are
    /// closed), or after 5 s if its thread is stuck.
    public var mode: Mode {
        get { lock.withLock { wantedMode } }
        set {
            let wanted = lock.withLock {
                wantedMode = newValue
                requested += 1
                return requested
            }
            let deadline = DispatchTime.now().uptimeNanoseconds + 5_000_000_000
            while lock.withLock({ applied < wanted && !stopping }) && DispatchTime.now().uptimeNanoseconds < deadline {
                usleep(1_000)
            }
        }
    }

    /// Stops the loop and closes every socket (idempotent).
    public func stop() {
        let first = lock.withLock {
            defer { stopping = true }
            return !stopping
        }
        if first { finished.wait() }
    }

    // MARK: The loop

    private final class Connection {
        let client: Int32
        var upstream: Int32 = -1
        var connecting = false
        var toUpstream: [UInt8] = []
        var toClient: [UInt8] = []
        var closed = false

        init(client: Int32) { self.client = client }

        func close() {
            guard !closed else { return }
            closed = true
            Glibc.close(client)
            if upstream >= 0 { Glibc.close(upstream) }
        }
    }

    private static let bufferLimit = 1 << 20

    private func run() {
        var connections: [Connection] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        defer {
            connections.forEach { $0.close() }
            close(listener)
        }
        while true {
            let (mode, stop, generation) = lock.withLock { (wantedMode, stopping, requested) }
            if stop { return }
            if mode == .cut {
                connections.forEach { $0.close() }
                connections.removeAll()
            }
            lock.withLock { applied = generation }
            if mode == .pass {
                for connection in connections where connection.upstream < 0 {
                    startUpstream(connection)
                }
            }
            connections.removeAll { $0.closed }

            // Build the poll set: the listener, then per connection its client and upstream side.
            var fds: [pollfd] = []
            fds.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0))
            var watched: [(connection: Connection, clientIndex: Int?, upstreamIndex: Int?)] = []
            if mode == .pass {
                for connection in connections {
                    var clientEvents: Int16 = 0
                    var upstreamEvents: Int16 = 0
                    if connection.connecting {
                        upstreamEvents |= Int16(POLLOUT)
                    } else {
                        if connection.toUpstream.count < Self.bufferLimit { clientEvents |= Int16(POLLIN) }
                        if connection.toClient.count < Self.bufferLimit { upstreamEvents |= Int16(POLLIN) }
                        if !connection.toUpstream.isEmpty { upstreamEvents |= Int16(POLLOUT) }
                        if !connection.toClient.isEmpty { clientEvents |= Int16(POLLOUT) }
                    }
                    let clientIndex = fds.count
                    fds.append(pollfd(fd: connection.client, events: clientEvents, revents: 0))
                    let upstreamIndex = fds.count
                    fds.append(pollfd(fd: connection.upstream, events: upstreamEvents, revents: 0))
                    watched.append((connection, clientIndex, upstreamIndex))
                }
            }
            let ready = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), 20) }
            if ready <= 0 { continue }

            if fds[0].revents & Int16(POLLIN) != 0 {
                while true {
                    let client = accept(listener, nil, nil)
                    if client < 0 { break }
                    if mode == .cut {
                        Self.reset(client)
                        continue
                    }
                    _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
                    _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                    Self.noDelay(client)
                    connections.append(Connection(client: client))
                }
            }
            for (connection, clientIndex, upstreamIndex) in watched where !connection.closed {
                let clientReady = clientIndex.map { fds[$0].revents } ?? 0
                let upstreamReady = upstreamIndex.map { fds[$0].revents } ?? 0
                if connection.connecting {
                    guard upstreamReady != 0 else { continue }
                    var error: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(connection.upstream, SOL_SOCKET, SO_ERROR, &error, &length)
                    if error != 0 {
                        connection.close()  // the target is down: the client sees its connection end
                    } else {
                        connection.connecting = false
                    }
                    continue
                }
                // Read what is ready, then write what is buffered.
                if clientReady & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                    if !pump(from: connection.client, into: &connection.toUpstream, buffer: &buffer) { connection.close(); continue }
                }
                if upstreamReady & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                    if !pump(from: connection.upstream, into: &connection.toClient, buffer: &buffer) { connection.close(); continue }
                }
                if !flush(&connection.toUpstream, to: connection.upstream) || !flush(&connection.toClient, to: connection.client) {
                    connection.close()
                }
            }
        }
    }

    /// Starts a non-blocking connect to the target for `connection`.
    private func startUpstream(_ connection: Connection) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            connection.close()
            return
        }
        Self.noDelay(fd)
        var source = Self.loopback(port: 0, host: "127.0.0.2")
        _ = withUnsafePointer(to: &source) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var address = Self.loopback(port: targetPort)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        connection.upstream = fd
        if result == 0 {
            connection.connecting = false
        } else if errno == EINPROGRESS {
            connection.connecting = true
        } else {
            connection.close()
        }
    }

    /// Reads what `fd` has into `pending`; false on end of stream or error.
    private func pump(from fd: Int32, into pending: inout [UInt8], buffer: inout [UInt8]) -> Bool {
        while pending.count < Self.bufferLimit {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                pending += buffer[0..<count]
                continue
            }
            if count == 0 { return false }
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
        }
        return true
    }

    /// Writes as much of `pending` to `fd` as it takes; false on error.
    private func flush(_ pending: inout [UInt8], to fd: Int32) -> Bool {
        while !pending.isEmpty {
            let written = pending.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written > 0 {
                pending.removeFirst(written)
                continue
            }
            return written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        }
        return true
    }

    // MARK: Sockets

    private static func loopback(port: Int, host: String = "127.0.0.1") -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(host)
        address.sin_port = UInt16(port).bigEndian
        return address
    }

    /// Closes `fd` with a reset (linger 0) rather than an orderly shutdown.
    private static func reset(_ fd: Int32) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close(fd)
    }

    private static func noDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// A non-blocking listening socket on 127.0.0.1, on a port the kernel picks, and that port.
    private static func listen() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure.socket("socket", errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, 128) == 0 else {
            let error = errno
            close(fd)
            throw Failure.socket("bind/listen 127.0.0.1:0", error)
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: actual.sin_port)))
    }
}
