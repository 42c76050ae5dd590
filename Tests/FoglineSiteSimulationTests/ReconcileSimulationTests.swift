import FoglineCore
import FoglineTesting
import Testing

/// Site gossip and the cloud uplink in the whole-site simulation (DESIGN.md "Edge ↔ cloud"):
/// whatever the network, crashes and the uplink did meanwhile, once healed every edge node and
/// the cloud hold exactly the join of every write, and every counter the sum of what was added.
@Suite("Whole-site reconciliation simulation")
struct ReconcileSimulationTests {
    /// What one run saw (computed off the cooperative pool, checked on the test's task).
    struct Outcome: Sendable {
        var writes = 0
        var batches = 0
        var refused = 0
        var faults = 0
        var convergedAfter: UInt64?
        var divergences: [String] = []
    }

    /// Faults for `seconds` of simulated time, then healing.
    static func run(seed: UInt64, edges: Int, seconds: UInt64, maxBatchEntries: Int) -> Outcome {
        var site = ReconcileSite(edges: edges, seed: seed, maxBatchEntries: maxBatchEntries)
        var random = SeededRandom(seed: seed &+ 99)
        var outcome = Outcome()
        while site.now < seconds * 1_000 {
            for _ in 0..<random.int(in: 0...3) { site.write() }
            if random.chance(0.08) {
                outcome.faults += 1
                switch random.int(in: 0...4) {
                case 0: site.setPartition(.random(nodes: edges, using: &random))
                case 1: site.crash(random.int(in: 0...(edges - 1)))
                case 2: site.restart(random.int(in: 0...(edges - 1)))
                case 3: site.setUplink(holder: site.uplinkHolder, cut: !site.uplinkCut)
                default:
                    let live = site.edgeIndices.filter { site.replicas[$0].up }
                    site.setUplink(holder: live.isEmpty || random.chance(0.2) ? nil : random.pick(live), cut: site.uplinkCut)
                }
            }
            site.run(until: site.now + UInt64(random.int(in: 20...200)))
        }
        site.heal()
        outcome.convergedAfter = site.runUntilConverged(within: 60_000)
        outcome.writes = site.writes
        outcome.batches = site.batchesSent
        outcome.refused = site.batchesRefused
        outcome.divergences = site.divergences
        return outcome
    }

    @Test("3 and 5 edge nodes and the cloud: drops, duplicates, delays, partitions, crashes, uplink cuts and holder changes; all equal after healing", arguments: PropertySeeds.seeds(default: 20))
    func convergesUnderFaults(seed: UInt64) async {
        for edges in [3, 5] {
            let outcome = await OffPool.run { Self.run(seed: seed, edges: edges, seconds: 20, maxBatchEntries: 8) }
            let context = "seed \(seed), \(edges) edges, \(outcome.batches) batches of which \(outcome.refused) refused (replay: FOGLINE_SEED=\(seed))"
            #expect(outcome.writes > 100 && outcome.batches > 0 && outcome.faults > 0, "\(context): the run exercised nothing")
            #expect(outcome.convergedAfter != nil, "\(context): not converged 60 s after healing: \(outcome.divergences.prefix(3))")
            #expect(outcome.divergences.isEmpty, "\(context): \(outcome.divergences.prefix(3))")
        }
    }

    @Test("large batches: everything missing fits in one batch most of the time", arguments: PropertySeeds.seeds(default: 5))
    func convergesWithLargeBatches(seed: UInt64) async {
        let outcome = await OffPool.run { Self.run(seed: seed, edges: 3, seconds: 20, maxBatchEntries: 5_000) }
        #expect(outcome.convergedAfter != nil && outcome.divergences.isEmpty, "seed \(seed): \(outcome.divergences.prefix(3))")
    }
}
