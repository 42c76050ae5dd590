import FoglineCore
import FoglineTesting
import FoglineWire
import Foundation
import Testing

/// A real `fogline-edge` whose wall clock is set with libfaketime (Debian `faketime`): booted in
/// 1970 after having run with a good clock. (The NTP step forward is in ``ClockJumpTests``, with
/// an injected clock: libfaketime's timed stop did not take effect in a process the tests spawn.)
@Suite("fogline-edge with a wrong wall clock", .serialized)
struct ClockProcessTests {
    /// libfaketime: the wall clock starts at 2 January 1970 and runs. The monotonic clocks are
    /// left alone, so lease and timeout timers run normally.
    static func fakeTimeEnvironment() throws -> [String: String] {
        let library = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"]
            .first { FileManager.default.fileExists(atPath: $0) }
        let found = try #require(library, "libfaketime is not installed: run `make deps` (apt-get install -y faketime)")
        return ["LD_PRELOAD": found, "FAKETIME": "@1970-01-02 00:00:00", "FAKETIME_DONT_FAKE_MONOTONIC": "1"]
    }

    @Test("booted in 1970 (libfaketime): monotonic timestamps from the persisted bound, clock untrusted, no new leases, devices still served")
    func bootIn1970() async throws {
        let site = try EdgeUnderTest()
        let configuration = "hlc:\n  untrusted_lease_grace_s: 3600\n"
        func status() async throws -> JSONValue {
            try StrictJSON.parse(try await requestOffPool(port: site.adminPort, "GET", "/v1/status").body)
        }
        func hlc() async throws -> HLCTimestamp {
            let text = try await status()["hlc"]?.stringValue ?? ""
            return try #require(HLCTimestamp(text), "no HLC in /v1/status: \(text)")
        }
        func acquire() async throws -> HTTPTestClient.Response {
            try await requestOffPool(
                port: site.adminPort, "POST", "/v1/leases/pump-room/acquire", body: Array(#"{"holder":"w1","ttl_ms":5000}"#.utf8))
        }

        // A first run with the real clock persists an HLC bound.
        try site.launchEdge(configuration: configuration)
        try await pollUntil("the node to be healthy with a good clock\n\(site.log)") {
            let health = try await requestOffPool(port: site.adminPort, "GET", "/healthz")
            return health.status == 200
        }
        let first = try await requestOffPool(port: site.adminPort, "PUT", "/v1/devices/th-1/desired", body: Array(#"{"fields":{"a":1}}"#.utf8))
        #expect(first.status == 200)
        #expect(try await status()["clock"]?.stringValue == "trusted")
        let before = try await hlc()
        let firstRun = try #require(site.edge)
        #expect(try await offPool { firstRun.stop(signal: SIGTERM) } == 0)

        // The board boots again with its clock at 2 January 1970.
        try site.launchEdge(configuration: configuration, environment: try Self.fakeTimeEnvironment(), launcher: "/usr/bin/env")
        try await pollUntil("the admin API under the 1970 clock\n\(site.log)") {
            try await requestOffPool(port: site.adminPort, "GET", "/v1/status").status == 200
        }
        let untrusted = try await status()
        #expect(untrusted["clock"]?.stringValue == "untrusted", "\(untrusted)")
        #expect(untrusted["clockDetail"]?["leases"]?.stringValue == "refused")
        #expect((untrusted["clockDetail"]?["behindMs"]?.numberValue ?? 0) > 1e12)
        let restored = try await hlc()
        #expect(restored > before, "timestamps continue after the persisted bound: \(before) → \(restored)")
        #expect(restored.milliseconds > 1_600_000_000_000, "not 1970: the clock continues from the persisted bound, \(restored)")
        let write = try await requestOffPool(
            port: site.adminPort, "PUT", "/v1/devices/th-1/desired", body: Array(#"{"fields":{"a":2}}"#.utf8))
        #expect(write.status == 200, "the device plane keeps working")
        #expect(try await hlc() > restored, "and its timestamps keep growing")
        let refused = try await acquire()
        #expect(refused.status == 503, "\(refused.text)")
        #expect(refused.text.contains("clock"))
        #expect(try await status()["quorum"]?["shards"]?["owned"]?.arrayElements?.isEmpty == true, "no shard taken after the refusal")
        #expect(try await requestOffPool(port: site.adminPort, "GET", "/healthz").status == 503, "a lone node owning no shard is not ready")

        #expect(site.edge?.process.isRunning == true)
    }
}
