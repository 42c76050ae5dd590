import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A minimal blocking HTTP/1.1 client over a loopback socket, for tests of the admin and cloud
/// APIs (no dependency on curl or URLSession). One request per connection.
public enum HTTPTestClient {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: [UInt8]
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public enum Failure: Error { case connect(Int32), malformed(String), timeout }

    /// One request on a fresh connection. `timeoutSeconds` only guards against a hang: a
    /// loaded machine running the whole suite in parallel may take seconds to schedule the
    /// server's handler, so it is generous.
    public static func request(
        port: Int, method: String, path: String, body: [UInt8] = [], headers: [String: String] = [:], timeoutSeconds: Int = 60
    ) throws -> Response {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.connect(errno) }
        defer { close(fd) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure.connect(errno) }
        let extra = headers.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)\r\n" }.joined()
        let head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\(extra)Content-Length: \(body.count)\r\n\r\n"
        let request = Array(head.utf8) + body
        var sent = 0
        while sent < request.count {
            let written = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            guard written > 0 else { throw Failure.connect(errno) }
            sent += written
        }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { break }
            if count < 0 { throw errno == EAGAIN ? Failure.timeout : Failure.connect(errno) }
            received += chunk[0..<count]
        }
        return try parse(received)
    }

    static func parse(_ bytes: [UInt8]) throws -> Response {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0..<max(0, bytes.count - 3)).first(where: { Array(bytes[$0..<$0 + 4]) == separator }) else {
            throw Failure.malformed("no header terminator")
        }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw Failure.malformed(lines[0]) }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Response(status: status, headers: headers, body: Array(bytes[(end + 4)...]))
    }
}

/// Retries a request until the server accepts connections (with a deadline, never a fixed sleep). The
/// deadline is a hang guard: in a full parallel run on 2 cores the server task can wait long for a thread.
public func pollHTTP(
    port: Int, _ method: String, _ path: String, body: [UInt8] = [], headers: [String: String] = [:], seconds: Double = 120
) async throws -> HTTPTestClient.Response {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        do { return try await requestOffPool(port: port, method, path, body: body, headers: headers) } catch {
            if Date() > deadline { throw error }
            try await Task.sleep(for: .milliseconds(25))
        }
    }
}

/// `HTTPTestClient.request` blocks its thread: run it on a dispatch queue, so that the server task
/// under test keeps a thread of Swift's cooperative pool (two threads on a 2-core machine, where a
/// blocked pool kept the server from starting until the deadline).
public func requestOffPool(
    port: Int, _ method: String, _ path: String, body: [UInt8] = [], headers: [String: String] = [:]
) async throws -> HTTPTestClient.Response {
    try await offPool { try HTTPTestClient.request(port: port, method: method, path: path, body: body, headers: headers) }
}

/// Polls `condition` with `Task.sleep` between checks until it holds or `seconds` pass: the async
/// tests' wait (the blocking ``waitUntil(_:seconds:_:)`` would hold a thread of the small pool).
/// `what` is evaluated only on failure (so it can show a log as it is then).
public func pollUntil(_ what: @autoclosure () -> String, seconds: Double = 30, _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if (try? await condition()) == true { return }
        try await Task.sleep(for: .milliseconds(25))
    }
    do {
        if try await condition() { return }
    } catch {
        throw ProgramProcess.Failure.deadline("\(what()) (last error: \(error))")
    }
    throw ProgramProcess.Failure.deadline(what())
}

/// Runs blocking work (waiting for a child process, a blocking client) on a dispatch queue, off
/// Swift's cooperative pool. (CPU-heavy work that must not run beside other tests' timing goes
/// through ``OffPool/run(_:)``'s serial queue instead.)
public func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}

/// One sample of Prometheus text exposition: the value of `sample` (`name{labels}` exactly as
/// exposed), nil when absent.
public func prometheusValue(of sample: String, in text: String) -> Double? {
    text.split(separator: "\n").first { $0.hasPrefix(sample + " ") }.flatMap { Double($0.dropFirst(sample.count + 1)) }
}

extension HTTPTestClient {
    /// `GET /metrics` of the server on `port`, and the value of `sample` in it.
    public static func metric(port: Int, _ sample: String) throws -> Double? {
        prometheusValue(of: sample, in: try request(port: port, method: "GET", path: "/metrics").text)
    }
}
