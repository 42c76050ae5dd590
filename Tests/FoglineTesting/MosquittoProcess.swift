public import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A real Mosquitto broker for a test: its own config and data directory, a free loopback port,
/// started and awaited (by polling the port with a deadline), stopped on `stop()` or deinit.
public final class MosquittoProcess: @unchecked Sendable {
    public enum Failure: Error, CustomStringConvertible {
        case notInstalled
        case didNotStart(log: String)

        public var description: String {
            switch self {
            case .notInstalled:
                "mosquitto is not installed: run `make deps` (apt-get install -y mosquitto mosquitto-clients)."
            case .didNotStart(let log):
                "mosquitto did not accept connections within 10 s. Its log:\n\(log)"
            }
        }
    }

    public let port: Int
    public let directory: URL
    private let lock = NSLock()
    private var process: ChildProcess?
    private let extraConfiguration: String

    /// `mqtt://127.0.0.1:PORT`
    public var url: String { "mqtt://127.0.0.1:\(port)" }

    /// Starts a broker on a free loopback port. `extraConfiguration` is appended to mosquitto.conf.
    public init(extraConfiguration: String = "") throws {
        guard let binary = Self.binary else { throw Failure.notInstalled }
        _ = binary
        port = try Self.freeLoopbackPort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fogline-mosquitto-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.extraConfiguration = extraConfiguration
        try start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// (Re)starts the broker on the same port and waits until it accepts connections.
    public func start() throws {
        let config = directory.appendingPathComponent("mosquitto.conf")
        let log = directory.appendingPathComponent("mosquitto.log")
        try """
        listener \(port) 127.0.0.1
        allow_anonymous true
        persistence false
        log_dest file \(log.path)
        log_type error
        log_type warning
        max_queued_messages 100000
        \(extraConfiguration)
        """.write(to: config, atomically: true, encoding: .utf8)
        let process = try ChildProcess(path: Self.binary!, arguments: ["-c", config.path])
        lock.withLock { self.process = process }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if Self.acceptsConnections(port: port) { return }
            if !process.isRunning { break }
            usleep(20_000)
        }
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? "(no log)"
        stop()
        throw Failure.didNotStart(log: text)
    }

    /// Stops the broker (SIGTERM) and waits for it to exit.
    public func stop() {
        let running = lock.withLock { () -> ChildProcess? in
            defer { process = nil }
            return process
        }
        running?.stop(signal: SIGTERM)
    }

    /// Kills the broker with SIGKILL (a crash), without waiting for a clean shutdown.
    public func kill() {
        let running = lock.withLock { () -> ChildProcess? in
            defer { process = nil }
            return process
        }
        running?.stop(signal: SIGKILL)
    }

    public static var binary: String? {
        ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto"]
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// A port free on 127.0.0.1 for a server a test starts next.
    ///
    /// Picked at random below the kernel's ephemeral range (32768–60999 on Linux), where port 0
    /// binds and outgoing connections take their ports: a port handed out by the kernel there can
    /// be taken again by any connection before the test's server binds it, which under parallel
    /// tests happens. Below the range only another server can take it, so each candidate is
    /// checked by binding it, and no port is handed out twice by this process.
    public static func freeLoopbackPort() throws -> Int {
        for _ in 0..<1_000 {
            let port = Int.random(in: 20_000..<32_768)
            guard handedOut.withLock({ $0.insert(port).inserted }) else { continue }
            if canBind(port: port) { return port }
        }
        throw POSIXError(.EADDRINUSE)
    }

    private static let handedOut = Mutex<Set<Int>>([])

    private static func canBind(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        } == 0
    }

    static func acceptsConnections(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
