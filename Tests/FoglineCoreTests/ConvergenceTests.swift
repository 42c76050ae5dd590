import FoglineCore
import FoglineTesting
import Testing

/// Replicas exchanging mutator deltas over a network that reorders, duplicates and loses them,
/// then running anti-entropy (`delta(since:)`), end equal; and the counters, rollups and raw
/// readings they end with are exactly what was written (nothing lost, nothing counted twice).
@Suite("Site state convergence")
struct ConvergenceTests {
    struct Envelope {
        var to: Int
        var delta: SiteDelta
    }

    @Test("3–5 replicas with random operations and random delivery converge", arguments: PropertySeeds.seeds(default: 120))
    func converges(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let count = random.int(in: 3...5)
        var writers = (0..<count).map { RandomSiteWriter(name: "edge-\($0)") }
        var network: [Envelope] = []
        let lossRate = random.pick([0.0, 0.1, 0.4])
        var counterModel: [String: Int64] = [:]

        for _ in 0..<random.int(in: 20...150) {
            let index = random.int(in: 0...(count - 1))
            let before = writers[index].state.counters
            let delta = writers[index].randomOperation(using: &random)
            if delta.counters != nil {
                for (name, value) in writers[index].state.counters.values {
                    counterModel[name, default: 0] += value - before.value(name)
                }
            }
            for target in 0..<count where target != index {
                if random.chance(lossRate) { continue }
                network.append(Envelope(to: target, delta: delta))
                if random.chance(0.1) { network.append(Envelope(to: target, delta: delta)) }  // duplicate
            }
            // Deliver a random subset, in random order.
            while !network.isEmpty && random.chance(0.6) {
                let envelope = network.remove(at: random.int(in: 0...(network.count - 1)))
                writers[envelope.to].state.merge(envelope.delta)
            }
        }
        for envelope in network.shuffled(using: &random) { writers[envelope.to].state.merge(envelope.delta) }

        if lossRate == 0 {
            // With every delta delivered (in any order, duplicated), no anti-entropy is needed.
            for writer in writers.dropFirst() {
                #expect(writer.state == writers[0].state, "seed \(seed): diverged without loss")
            }
        }
        // Anti-entropy: each pair exchanges what the other lacks, until nothing is sent.
        var rounds = 0
        var sent = true
        while sent && rounds < 10 {
            sent = false
            rounds += 1
            for a in 0..<count {
                for b in 0..<count where a != b {
                    if let delta = writers[a].state.delta(since: writers[b].state.summary) {
                        writers[b].state.merge(delta)
                        sent = true
                    }
                }
            }
        }
        #expect(rounds <= 3, "seed \(seed): anti-entropy took \(rounds) rounds")
        for writer in writers.dropFirst() {
            #expect(writer.state == writers[0].state, "seed \(seed): diverged after anti-entropy")
        }
        for (name, expected) in counterModel {
            #expect(writers[0].state.counters.value(name) == expected, "seed \(seed): counter \(name)")
        }
    }

    @Test("every telemetry sample is counted exactly once in the rollups", arguments: PropertySeeds.seeds(default: 60))
    func rollupsCountEachSampleOnce(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var nodes = (0..<3).map { RandomSiteWriter(name: "edge-\($0)") }
        var deltas: [SiteDelta] = []
        var samples = 0
        var sum = 0.0
        for step in 0..<200 {
            let index = random.int(in: 0...2)
            let value = Double(random.int(in: 0...100))
            let stamp = nodes[index].stamp(using: &random)
            deltas.append(nodes[index].state.recordTelemetry(
                device: "meter-1", epoch: 1, seq: UInt64(step), deviceTime: nil,
                values: [.init(name: "power", value: value)], stamp: stamp, keepRaw: true))
            samples += 1
            sum += value
        }
        // Deliver everything twice, shuffled, to a fresh replica.
        var replica = SiteState()
        for delta in (deltas + deltas).shuffled(using: &random) { replica.merge(delta) }
        let windows = replica.rollups.windows(device: "meter-1", metric: "power")
        #expect(windows.reduce(0) { $0 + $1.summary.count } == UInt64(samples), "seed \(seed)")
        #expect(windows.reduce(0) { $0 + $1.summary.sum } == sum, "seed \(seed)")
        #expect(replica.raw.readings.count == 200, "seed \(seed)")
    }

    @Test("a delta group (joined deltas) has the same effect as its deltas one by one", arguments: PropertySeeds.seeds(default: 100))
    func deltaGroups(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var writer = RandomSiteWriter(name: "edge-0")
        var receiverBase = RandomSiteWriter(name: "edge-1")
        for _ in 0..<20 { _ = receiverBase.randomOperation(using: &random) }
        var deltas: [SiteDelta] = []
        for _ in 0..<random.int(in: 1...30) { deltas.append(writer.randomOperation(using: &random)) }
        var group = deltas[0]
        for delta in deltas.dropFirst() { group.formJoin(delta) }
        var oneByOne = receiverBase.state
        for delta in deltas { oneByOne.merge(delta) }
        var grouped = receiverBase.state
        grouped.merge(group)
        #expect(grouped == oneByOne, "seed \(seed)")
    }

    @Test("pruned raw readings are not sent back by peers")
    func prunedReadingsStayPruned() {
        var edge = RandomSiteWriter(name: "edge-0")
        var cloud = SiteState()
        var random = SeededRandom(seed: 7)
        for seq in 0..<50 {
            _ = edge.state.recordTelemetry(
                device: "d", epoch: 1, seq: UInt64(seq), deviceTime: nil, values: [.init(name: "t", value: 1)],
                stamp: edge.stamp(using: &random), keepRaw: true)
        }
        cloud.merge(edge.state)
        #expect(edge.state.pruneRawTelemetry(keepingPerDevice: 10) == 40)
        #expect(edge.state.raw.readings.count == 10)
        #expect(cloud.delta(since: edge.state.summary) == nil)
        #expect(edge.state.raw.readings.keys.map(\.seq).min() == 40)
    }
}
