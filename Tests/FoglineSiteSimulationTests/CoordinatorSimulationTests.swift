import FoglineCore
import FoglineTesting
import Testing

/// Shard ownership, roles and job claims on top of the quorum, in the whole-site simulation:
/// ownership moves within the takeover bound when a node dies and back when it returns, and no
/// shard or role ever has two owners at once, whatever the network does.
@Suite("Whole-site coordination simulation")
struct CoordinatorSimulationTests {
    /// DESIGN.md: a dead node's devices are served by another node within 5 s.
    static let takeoverBound: UInt64 = 5_000

    /// What one takeover run saw (computed off the cooperative pool, checked on the test's task).
    struct TakeoverRun: Sendable {
        var settled = false
        var victim: String?
        var takeover: UInt64?
        var back = false
        var violations: [String] = []
    }

    @Test("a dead node's shards and role are taken over within 5 s and move back when it returns", arguments: PropertySeeds.seeds(default: 4))
    func takeoverAndRebalance(seed: UInt64) async {
        for count in [3, 5] {
            let run = await OffPool.run { () -> TakeoverRun in
                var run = TakeoverRun()
                var site = CoordinatorSite(nodes: count, seed: seed)
                site.network.faults = .init(dropRate: 0, duplicateRate: 0, delayMilliseconds: 1...10)
                let everyone = site.nodes.map(\.name)
                run.settled = site.run(within: 20_000) { $0.placed(among: everyone) } != nil
                // Kill the holder of the uplink role.
                guard let victimName = site.holders(ofRole: "cloud-uplink").first,
                    let victim = site.nodes.firstIndex(where: { $0.name == victimName })
                else { return run }
                run.victim = victimName
                site.crash(victim)
                let survivors = everyone.filter { $0 != victimName }
                run.takeover = site.run(within: 10_000) { $0.placed(among: survivors) }
                // Back: it gets its shards and role again.
                site.restart(victim)
                run.back = site.run(within: 20_000) { $0.placed(among: everyone) } != nil
                run.violations = site.violations
                return run
            }
            let context = "seed \(seed), \(count) nodes"
            #expect(run.settled, "\(context): the site never settled")
            #expect(run.victim != nil, "\(context): nobody holds cloud-uplink")
            #expect(run.takeover.map { $0 <= Self.takeoverBound } == true, "\(context): takeover took \(run.takeover.map(String.init) ?? "forever") ms")
            #expect(run.back, "\(context): the returning node did not get its shards back")
            #expect(run.violations.isEmpty, "\(context): \(run.violations.prefix(3))")
        }
    }

    @Test("under partitions, crashes, loss and drift no shard or role ever has two owners; after healing each has one", arguments: PropertySeeds.seeds(default: 8))
    func safetyUnderFaults(seed: UInt64) async {
        for count in [3, 5] {
            let (healed, violations) = await OffPool.run { () -> (Bool, [String]) in
                var site = CoordinatorSite(nodes: count, seed: seed)
                var random = SeededRandom(seed: seed &+ 17)
                var elapsed: UInt64 = 0
                while elapsed < 20_000 {
                    site.network.partition = .random(nodes: count, using: &random)
                    if random.chance(0.3) { site.crash(random.int(in: 0...(count - 1))) }
                    if random.chance(0.5) { for node in 0..<count { site.restart(node) } }
                    let span = UInt64(random.int(in: 300...2_500))
                    site.run(until: site.now + span)
                    elapsed += span
                }
                site.network = SimulatedNetwork()
                site.network.faults = .init(dropRate: 0, duplicateRate: 0, delayMilliseconds: 1...10)
                for node in 0..<count { site.restart(node) }
                let healed = site.run(within: 20_000) { $0.fullyOwned } != nil
                return (healed, site.violations)
            }
            let context = "seed \(seed), \(count) nodes (replay: FOGLINE_SEED=\(seed))"
            #expect(healed, "\(context): no single owner per shard after healing")
            #expect(violations.isEmpty, "\(context): \(violations.prefix(3))")
        }
    }

    @Test("each job is claimed by exactly one node", arguments: PropertySeeds.seeds(default: 4))
    func jobClaims(seed: UInt64) async {
        let outcomesByJob = await OffPool.run { () -> [Int: [RegisterOutcome]] in
            var site = CoordinatorSite(nodes: 3, seed: seed)
            site.network.faults = .init(dropRate: 0.05, duplicateRate: 0.05, delayMilliseconds: 1...20)
            var random = SeededRandom(seed: seed)
            var claims: [(job: Int, id: OperationID)] = []
            for _ in 0..<60 {
                let job = random.int(in: 1...15)
                let node = random.int(in: 0...2)
                claims.append((job, site.submit(.compareAndSet(expectedVersion: 0, value: Array(site.nodes[node].name.utf8)), key: "job/\(job)", at: node)))
                site.run(until: site.now + UInt64(random.int(in: 0...30)))
            }
            site.run(until: site.now + 5_000)
            return Dictionary(grouping: claims, by: \.job).mapValues { $0.compactMap { site.completed[$0.id] } }
        }
        for (job, outcomes) in outcomesByJob.sorted(by: { $0.key < $1.key }) {
            let winners = outcomes.filter { if case .written = $0 { true } else { false } }
            #expect(winners.count == 1, "seed \(seed) job \(job): \(outcomes)")
            #expect(outcomes.allSatisfy { if case .written = $0 { true } else if case .conflict = $0 { true } else { false } }, "seed \(seed) job \(job): \(outcomes)")
        }
    }
}
