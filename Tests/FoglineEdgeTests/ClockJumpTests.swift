import FoglineConfig
import FoglineCore
import FoglineEdge
import FoglineTesting
import FoglineWire
import Foundation
import Logging
import Synchronization
import Testing

/// A wall clock a test sets: the node reads it through ``WallClock``.
final class ManualWallClock: Sendable {
    private let now: Mutex<UInt64>

    init(_ milliseconds: UInt64) { now = Mutex(milliseconds) }

    func set(_ milliseconds: UInt64) { now.withLock { $0 = milliseconds } }

    func read() -> UInt64 { now.withLock { $0 } }

    var clock: WallClock { WallClock { self.read() } }
}

/// An `EdgeNode` in this process with an injected wall clock: it runs with a good clock, restarts
/// in 1970, then the clock steps forward as NTP would.
@Suite("NTP step forward with an injected clock", .serialized)
struct ClockJumpTests {
    @Test("after a 1970 restart the node refuses leases; the first NTP jump forward makes it trusted, it takes its shards, timestamps keep growing")
    func jumpForward() async throws {
        let broker = try MosquittoProcess()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fogline-clock-jump-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var port = try MosquittoProcess.freeLoopbackPort()
        var configuration = try EdgeConfiguration.load(
            text: "hlc: {untrusted_lease_grace_s: 3600}", file: "edge.yaml",
            overrides: .init(site: "plant-1", node: "edge-a", broker: broker.url, dataDirectory: directory.path, admin: "127.0.0.1:\(port)"))
        let realNow = UInt64(Date().timeIntervalSince1970 * 1_000)
        let wall = ManualWallClock(realNow)
        func status() async throws -> JSONValue {
            try StrictJSON.parse(try await requestOffPool(port: port, "GET", "/v1/status").body)
        }
        func hlc() async throws -> HLCTimestamp { try #require(HLCTimestamp(try await status()["hlc"]?.stringValue ?? "")) }
        func owned() async throws -> Int { try await status()["quorum"]?["shards"]?["owned"]?.arrayElements?.count ?? -1 }
        func run(_ node: EdgeNode) -> Task<Void, any Error> { Task { try await node.run() } }
        func logger(_ label: String) -> Logger {
            var logger = Logger(label: label)
            logger.logLevel = .error
            return logger
        }

        // A first run with a good clock writes something, so an HLC bound is persisted.
        let first = run(try EdgeNode(configuration: configuration, logger: logger("first"), wallClock: wall.clock))
        try await pollUntil("the first run to own its shards") { try await owned() == 16 }
        let write = try await requestOffPool(port: port, "PUT", "/v1/devices/th-1/desired", body: Array(#"{"fields":{"a":1}}"#.utf8))
        #expect(write.status == 200)
        let before = try await hlc()
        first.cancel()
        try await first.value

        // The board restarts with its clock in 1970 (the admin API on a fresh port, so that the
        // first run's listener cannot be in the way).
        wall.set(86_400_000)
        port = try MosquittoProcess.freeLoopbackPort()
        configuration.adminPort = port
        let second = run(try EdgeNode(configuration: configuration, logger: logger("second"), wallClock: wall.clock))
        defer { second.cancel() }
        try await pollUntil("the restarted node's admin API") { try await requestOffPool(port: port, "GET", "/v1/status").status == 200 }
        #expect(try await status()["clock"]?.stringValue == "untrusted")
        #expect(try await status()["clockDetail"]?["leases"]?.stringValue == "refused")
        let restored = try await hlc()
        #expect(restored > before)
        let refused = try await requestOffPool(
            port: port, "POST", "/v1/leases/pump/acquire", body: Array(#"{"holder":"w1","ttl_ms":5000}"#.utf8))
        #expect(refused.status == 503)

        // NTP steps the clock forward.
        wall.set(realNow + 10_000)
        try await pollUntil("the clock to be trusted and the shards taken", seconds: 60) {
            let clock = try await status()["clock"]?.stringValue
            let shards = try await owned()
            return clock == "trusted" && shards == 16
        }
        let granted = try await requestOffPool(
            port: port, "POST", "/v1/leases/pump/acquire", body: Array(#"{"holder":"w1","ttl_ms":5000}"#.utf8))
        #expect(granted.status == 200, "\(granted.text)")
        let afterJump = try await requestOffPool(port: port, "PUT", "/v1/devices/th-1/desired", body: Array(#"{"fields":{"a":2}}"#.utf8))
        #expect(afterJump.status == 200)
        let healed = try await hlc()
        #expect(healed > restored && healed.milliseconds >= realNow + 10_000, "timestamps follow the wall clock again: \(healed)")
        second.cancel()
        try await second.value
    }
}
