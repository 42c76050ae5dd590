import FoglineTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The fault-injecting proxy the chaos test puts on every peer link: it forwards, holds bytes
/// while dropping (and delivers them, in order, once it passes again), and while cut closes the
/// connections and resets new ones.
@Suite("FaultProxy")
struct FaultProxyTests {
    @Test("pass forwards, drop holds, cut closes and resets, pass again recovers")
    func modes() throws {
        signal(SIGPIPE, SIG_IGN)
        let echo = try EchoServer()
        defer { echo.stop() }
        let proxy = try FaultProxy(name: "test", targetPort: echo.port)
        defer { proxy.stop() }

        let first = try Socket(port: proxy.port)
        try first.send("hello")
        #expect(try first.receive(count: 5, seconds: 5) == "hello")

        proxy.mode = .drop
        try first.send("held")
        // Absence can only be observed over a window: nothing may arrive within 300 ms.
        #expect(try first.receive(count: 4, seconds: 0.3) == "", "a blackholed link forwarded bytes")
        proxy.mode = .pass
        #expect(try first.receive(count: 4, seconds: 5) == "held", "held bytes must arrive once the link passes again")

        proxy.mode = .cut
        #expect(try first.receivesEndOfStream(seconds: 5), "a cut closes open connections")
        // A new connection is reset as soon as it is accepted (or refused outright).
        let refused = try? Socket(port: proxy.port)
        #expect(try refused?.receivesEndOfStream(seconds: 5) ?? true, "a cut link must not keep new connections")

        proxy.mode = .pass
        let second = try Socket(port: proxy.port)
        try second.send("again")
        #expect(try second.receive(count: 5, seconds: 5) == "again")
    }
}

/// A blocking loopback TCP client socket for the test above.
private final class Socket {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let error = errno
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: error) ?? .EIO)
        }
    }

    deinit { close(fd) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count else {
            throw POSIXError(.EIO)
        }
    }

    /// Up to `count` bytes, as many as arrive within `seconds`.
    func receive(count: Int, seconds: Double) throws -> String {
        var received: [UInt8] = []
        let deadline = Date().addingTimeInterval(seconds)
        while received.count < count {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { break }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(left * 1_000) + 1) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: count - received.count)
            let read = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard read > 0 else { break }
            received += chunk[0..<read]
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// Whether the connection ends (EOF or reset) within `seconds`.
    func receivesEndOfStream(seconds: Double) throws -> Bool {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(seconds * 1_000)) > 0 else { return false }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) <= 0
    }
}

/// Echoes every connection's bytes back, one thread per connection.
private final class EchoServer: @unchecked Sendable {
    let listener: Int32
    let port: Int

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: actual.sin_port))
        Thread {
            while true {
                let connection = accept(listener, nil, nil)
                guard connection >= 0 else { return }  // closed by stop()
                Thread {
                    var buffer = [UInt8](repeating: 0, count: 4_096)
                    while true {
                        let read = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
                        guard read > 0, buffer.withUnsafeBytes({ send(connection, $0.baseAddress, read, Int32(MSG_NOSIGNAL)) }) == read else { break }
                    }
                    close(connection)
                }.start()
            }
        }.start()
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}
