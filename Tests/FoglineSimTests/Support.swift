import FoglineSim
import FoglineTesting
import FoglineWire
import Foundation

/// Shared helpers for the simulator tests.
enum Fixtures {
    /// A realistic virtual start time (Unix milliseconds, November 2025).
    static let start: Int64 = 1_763_800_000_000
    static let site = "plant-1"

    /// The package root, found from this file's path (Tests/FoglineSimTests/Support.swift).
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static var devicesDirectory: String { packageRoot + "/devices" }

    /// A profile from `devices/`.
    static func profile(_ name: String) throws -> Profile {
        try Profile.load(path: "\(devicesDirectory)/\(name).yaml")
    }

    /// Every profile in `devices/`, by file name.
    static func allProfileFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: devicesDirectory)
            .filter { $0.hasSuffix(".yaml") }
            .sorted()
    }

    /// A started loopback run of `profiles` (file names in `devices/` and counts).
    static func run(
        _ profiles: [(String, Int)],
        seed: UInt64 = 1,
        faults: [String] = [],
        rate: Double? = nil,
        durationMillis: Int64? = nil,
        records: Bool = true
    ) throws -> LoopbackRun {
        var loaded: [(profile: Profile, count: Int)] = []
        for (name, count) in profiles { loaded.append((try profile(name), count)) }
        return try run(loaded, seed: seed, faults: faults, rate: rate, durationMillis: durationMillis, records: records)
    }

    static func run(
        _ profiles: [(profile: Profile, count: Int)],
        seed: UInt64 = 1,
        faults: [String] = [],
        rate: Double? = nil,
        durationMillis: Int64? = nil,
        records: Bool = true
    ) throws -> LoopbackRun {
        let simulation = try Simulation(
            profiles: profiles, site: site, seed: seed, rateOverride: rate,
            faults: try FaultPlan.parse(faults), durationMillis: durationMillis)
        var run = LoopbackRun(simulation: simulation, recordsActions: records)
        run.start(at: start)
        return run
    }

    /// The reason the strict telemetry decoder gives for `bytes`, or `nil` if it accepts them.
    static func telemetryRejection(_ bytes: [UInt8]) -> String? {
        do {
            _ = try TelemetryPayload.decode(bytes)
            return nil
        } catch {
            return error.reason
        }
    }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
}

extension LoopbackRun {
    /// The publications of one kind, in order.
    func publications(_ kind: SimMessageKind) -> [TimedPublication] {
        publications.filter { $0.message.kind == kind }
    }

    /// The publications of one device, in order.
    func publications(ofDevice device: Int) -> [TimedPublication] {
        publications.filter { $0.device == device }
    }
}

/// Seeds for the seeded tests (`FOGLINE_SEED_SCALE=N` runs N times as many, `FOGLINE_SEED=S` replays one).
enum SimSeeds {
    static let seeds: [UInt64] = PropertySeeds.seeds(default: 3)
}
