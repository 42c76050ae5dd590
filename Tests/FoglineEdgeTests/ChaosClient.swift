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
        let response: HTTPTestClient.Response
        do {
            response = try HTTPTestClient.request(
                port: ports[node], method: method, path: path, body: Array(body.utf8), timeoutSeconds: Self.requestTimeoutSeconds)
        } catch HTTPTestClient.Failure.connect(let error) where error == ECONNREFUSED {
            return .unavailable  // only connect(2) reports ECONNREFUSED: nothing was sent
        } catch {
            return .unknown
        }
        if response.status == 503 {
            let message = (try? StrictJSON.parse(response.body))?["error"]?.stringValue ?? response.text
            return message.hasPrefix("no quorum") ? .unavailable : .unknown
        }
        guard let json = try? StrictJSON.parse(response.body) else { return .unknown }
        return .answered(status: response.status, json: json)
    }
}
