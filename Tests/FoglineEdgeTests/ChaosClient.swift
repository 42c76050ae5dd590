import FoglineTesting
import FoglineWire
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One client thread of the real-process chaos test: until its deadline, reads and
/// compare-and-sets a few kv keys and acquires and releases a few leases through a random node's
/// admin API, recording each operation and its outcome in the `ChaosRecorder`.
///
/// Outcomes: a connection refused or a 503 "no quorum" provably changed nothing (dropped from
/// the history); a 503 "outcome unknown", a timeout or a lost connection leave the operation
/// pending (it may take effect at any later time, or never).
struct ChaosClient {
    let id: Int
    let ports: [Int]
    let recorder: ChaosRecorder
    let leaseTTLMilliseconds: UInt64

    static let kvKeys = ["k0", "k1", "k2"]
    static let leaseKeys = ["l0", "l1"]
    /// Longer than the node's operation timeout (2 s), shorter than a stopped node's pause plus
    /// that timeout, so some requests to a stopped node end unknown.
    static let requestTimeoutSeconds = 4

    var holder: String { "c\(id)" }

    func run(until deadline: UInt64) {
        var random = SystemRandomNumberGenerator()
        var versions: [String: UInt64] = [:]
        var held: [String: UInt64] = [:]  // lease key → token of our latest grant
        var writes = 0
        while recorder.now < deadline {
            let node = Int.random(in: 0..<ports.count, using: &random)
            if Bool.random(using: &random) {
                let key = Self.kvKeys.randomElement(using: &random)!
                if Double.random(in: 0..<1, using: &random) < 0.4 {
                    read(key, node: node, versions: &versions)
                } else {
                    writes += 1
                    let known = versions[key] ?? 0
                    let expected = Double.random(in: 0..<1, using: &random) < 0.8 ? known : UInt64.random(in: 0...(known + 1), using: &random)
                    compareAndSet(key, expected: expected, value: "\(holder)-\(writes)", node: node, versions: &versions)
                }
            } else {
                let key = Self.leaseKeys.randomElement(using: &random)!
                if let token = held[key], Double.random(in: 0..<1, using: &random) < 0.5 {
                    held[key] = nil
                    release(key, token: token, node: node)
                } else if let token = acquire(key, node: node) {
                    held[key] = token
                }
            }
            usleep(useconds_t.random(in: 0...20_000, using: &random))
        }
    }

    // MARK: Operations

    private func read(_ key: String, node: Int, versions: inout [String: UInt64]) {
        let index = recorder.invokeKV(client: id, node: node, key: key, .get)
        let answer = call(node, "GET", "/v1/kv/\(key)")
        guard case .answered(let status, let json) = answer else { return recorder.completeKV(index, answer.ending()) }
        guard status == 200 || status == 404, let version = json["version"]?.exactIntegerValue else {
            return recorder.completeKV(index, .unknown)
        }
        versions[key] = UInt64(version)
        recorder.completeKV(index, .output(.value(json["value"]?.stringValue, version: UInt64(version))))
    }

    private func compareAndSet(_ key: String, expected: UInt64, value: String, node: Int, versions: inout [String: UInt64]) {
        let index = recorder.invokeKV(client: id, node: node, key: key, .cas(expectedVersion: expected, newValue: value))
        let answer = call(node, "POST", "/v1/kv/\(key)", #"{"expected_version":\#(expected),"value":"\#(value)"}"#)
        guard case .answered(let status, let json) = answer else { return recorder.completeKV(index, answer.ending()) }
        guard let version = json["version"]?.exactIntegerValue.map(UInt64.init) else { return recorder.completeKV(index, .unknown) }
        versions[key] = version
        switch status {
        case 200: recorder.completeKV(index, .output(.ok(newVersion: version)))
        case 409: recorder.completeKV(index, .output(.conflict(currentVersion: version)))
        default: recorder.completeKV(index, .unknown)
        }
    }

    /// The token, when granted.
    private func acquire(_ key: String, node: Int) -> UInt64? {
        let index = recorder.invokeLease(client: id, node: node, key: key, .acquire(holder: holder))
        let answer = call(node, "POST", "/v1/leases/\(key)/acquire", #"{"holder":"\#(holder)","ttl_ms":\#(leaseTTLMilliseconds)}"#)
        guard case .answered(let status, let json) = answer else {
            recorder.completeLease(index, answer.ending())
            return nil
        }
        switch status {
        case 200:
            guard let token = json["token"]?.exactIntegerValue, let ttl = json["ttl_ms"]?.exactIntegerValue, json["holder"]?.stringValue == holder else {
                recorder.completeLease(index, .unknown)
                return nil
            }
            recorder.completeLease(index, .output(.granted(token: UInt64(token))), ttlMilliseconds: UInt64(max(0, ttl)))
            return UInt64(token)
        case 409:
            guard let other = json["holder"]?.stringValue else {
                recorder.completeLease(index, .unknown)
                return nil
            }
            recorder.completeLease(index, .output(.held(by: other)))
        default:
            recorder.completeLease(index, .unknown)
        }
        return nil
    }

    private func release(_ key: String, token: UInt64, node: Int) {
        let index = recorder.invokeLease(client: id, node: node, key: key, .release(holder: holder, token: token))
        let answer = call(node, "POST", "/v1/leases/\(key)/release", #"{"holder":"\#(holder)","token":\#(token)}"#)
        guard case .answered(let status, _) = answer else { return recorder.completeLease(index, answer.ending()) }
        switch status {
        case 200: recorder.completeLease(index, .output(.ok))
        case 409: recorder.completeLease(index, .output(.notHolder))
        default: recorder.completeLease(index, .unknown)
        }
    }

    /// A definite HTTP answer, or how the request ended without one.
    enum Answer {
        case answered(status: Int, json: JSONValue)
        /// Refused, or 503 "no quorum": nothing was changed.
        case unavailable
        /// 503 "outcome unknown", a timeout, a lost connection.
        case unknown

        func ending<Output>() -> ChaosRecorder.Ending<Output> {
            if case .unavailable = self { return .unavailable }
            return .unknown
        }
    }

    private func call(_ node: Int, _ method: String, _ path: String, _ body: String = "") -> Answer {
        let response: (status: Int, body: [UInt8])
        do {
            response = try ChaosHTTP.request(
                port: ports[node], method: method, path: path, body: Array(body.utf8), timeoutSeconds: Self.requestTimeoutSeconds)
        } catch .refused {
            return .unavailable  // nothing was sent
        } catch {
            return .unknown
        }
        if response.status == 503 {
            let message = (try? StrictJSON.parse(response.body))?["error"]?.stringValue ?? String(decoding: response.body, as: UTF8.self)
            return message.hasPrefix("no quorum") ? .unavailable : .unknown
        }
        guard let json = try? StrictJSON.parse(response.body) else { return .unknown }
        return .answered(status: response.status, json: json)
    }
}

/// A minimal blocking HTTP/1.1 client like `HTTPTestClient`, but connecting *from* 127.0.0.2:
/// the chaos test opens thousands of short connections, and their ephemeral ports must not
/// collide with ports other tests running in parallel picked as free on 127.0.0.1 and are about
/// to bind.
enum ChaosHTTP {
    enum Failure: Error {
        /// connect(2) was refused: nothing was sent.
        case refused
        case failed(Int32)
        case timeout
        case malformed
    }

    static func request(port: Int, method: String, path: String, body: [UInt8] = [], timeoutSeconds: Int) throws(Failure) -> (status: Int, body: [UInt8]) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .failed(errno) }
        defer { close(fd) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var source = address("127.0.0.2", port: 0)
        _ = withUnsafePointer(to: &source) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var target = address("127.0.0.1", port: port)
        let connected = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw errno == ECONNREFUSED ? .refused : .failed(errno) }
        let head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: \(body.count)\r\n\r\n"
        let request = Array(head.utf8) + body
        var sent = 0
        while sent < request.count {
            let written = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw errno == EAGAIN ? .timeout : .failed(errno) }
            sent += written
        }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { break }
            if count < 0 { throw errno == EAGAIN ? .timeout : .failed(errno) }
            received += chunk[0..<count]
        }
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0..<max(0, received.count - 3)).first(where: { received[$0..<$0 + 4].elementsEqual(separator) }) else {
            throw .malformed
        }
        let statusLine = String(decoding: received[..<end], as: UTF8.self).prefix { $0 != "\r" }
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw .malformed }
        return (status, Array(received[(end + 4)...]))
    }

    private static func address(_ host: String, port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(host)
        address.sin_port = UInt16(port).bigEndian
        return address
    }
}
