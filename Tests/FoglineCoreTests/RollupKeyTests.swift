import FoglineCore
import FoglineTesting
import Testing

/// ``TelemetryRollups/Key`` hashes its fields once, at construction: equality and hashing must
/// still follow the four fields exactly.
@Suite("Rollup cell keys")
struct RollupKeyTests {
    static func randomKey(_ random: inout SeededRandom) -> TelemetryRollups.Key {
        TelemetryRollups.Key(
            device: random.pick(["d1", "d2", "thermostat-0001", "a-device-name-longer-than-fifteen-bytes"]),
            metric: random.pick(["temp", "rh", "d1"]),
            windowStart: UInt64(random.int(in: 0...2)) * 60_000,
            writer: NodeID(rawValue: UInt64(random.int(in: 1...2))))
    }

    @Test("keys are equal exactly when their fields are, and equal keys hash alike", arguments: PropertySeeds.seeds(default: 50))
    func equalityFollowsFields(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        for _ in 0..<200 {
            let a = Self.randomKey(&random)
            let b = Self.randomKey(&random)
            let sameFields = a.device == b.device && a.metric == b.metric && a.windowStart == b.windowStart && a.writer == b.writer
            #expect((a == b) == sameFields, "seed \(seed): \(a) vs \(b)")
            if sameFields { #expect(a.hashValue == b.hashValue, "seed \(seed): \(a)") }
            let rebuilt = TelemetryRollups.Key(device: a.device, metric: a.metric, windowStart: a.windowStart, writer: a.writer)
            #expect(rebuilt == a && rebuilt.hashValue == a.hashValue)
            #expect(Set([a, b, rebuilt]).count == (sameFields ? 1 : 2))
        }
    }
}
