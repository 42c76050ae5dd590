import FoglineSim
import Testing

@Suite("Determinism")
struct DeterminismTests {
    static let everyProfile = [("thermostat", 3), ("power_meter", 3), ("valve", 3), ("door_sensor", 3), ("air_quality", 3)]
    static let everyFault = ["disconnect=0.2", "skew=2.5", "duplicate=0.1", "malformed=0.1", "burst=5:1:2", "gap=0.1"]

    private func actions(seed: UInt64, until elapsed: Int64 = 5_000) throws -> [LoopbackRun.TimedAction] {
        var run = try Fixtures.run(Self.everyProfile, seed: seed, faults: Self.everyFault)
        run.run(until: Fixtures.start + elapsed)
        return run.actions
    }

    @Test("the same seed gives the same actions, byte for byte")
    func sameSeedSameActions() throws {
        let first = try actions(seed: 42)
        let second = try actions(seed: 42)
        #expect(first.count > 250)
        #expect(first == second)
        // The run exercised every kind of action.
        let drops = first.filter { if case .dropConnection = $0.action { true } else { false } }
        let reconnects = first.filter { if case .reconnect = $0.action { true } else { false } }
        #expect(!drops.isEmpty && !reconnects.isEmpty)
    }

    @Test("a different seed gives different messages")
    func differentSeedDifferentActions() throws {
        let payloads = { (actions: [LoopbackRun.TimedAction]) in actions.compactMap(\.action.publishedMessage?.payload) }
        let first = payloads(try actions(seed: 42))
        let second = payloads(try actions(seed: 43))
        #expect(first != second)
        // Not just shuffled: the readings themselves differ.
        #expect(Set(first) != Set(second))
    }

    @Test("how often tick is called changes no message", arguments: [1, 97, 250, 1_000])
    func tickGranularity(stepMillis: Int64) throws {
        // No disconnect fault: with it, reconnections complete at the tick that performs them.
        let faults = try FaultPlan.parse(["skew=1", "duplicate=0.1", "malformed=0.1", "burst=5:1:2", "gap=0.1"])
        var profiles: [(profile: Profile, count: Int)] = []
        for (name, count) in Self.everyProfile { profiles.append((try Fixtures.profile(name), count)) }
        let duration: Int64 = 6_000

        // Reference: the loopback run, which ticks exactly at each deadline.
        var reference = LoopbackRun(simulation: try Simulation(
            profiles: profiles, site: Fixtures.site, seed: 9, faults: faults, durationMillis: duration))
        reference.start(at: Fixtures.start)
        reference.runToEnd()

        // Coarse: connect everyone at start, then tick on a fixed step.
        var simulation = try Simulation(profiles: profiles, site: Fixtures.site, seed: 9, faults: faults, durationMillis: duration)
        var performed: [SimAction] = []
        for action in simulation.start(now: Fixtures.start) {
            performed.append(action)
            if case .connect(let device, _, _) = action {
                performed += simulation.connectionChanged(device: device, connected: true, now: Fixtures.start)
            }
        }
        var now = Fixtures.start
        while !simulation.isFinished {
            now += stepMillis
            performed += simulation.tick(now: now)
        }
        #expect(performed.compactMap(\.publishedMessage) == reference.publications.map(\.message))
        #expect(simulation.report() == reference.simulation.report())
    }
}
