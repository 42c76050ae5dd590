import FoglineCore
import FoglineTesting
import Testing

@Suite("Shard placement")
struct ShardPlacementTests {
    let members = ["edge-a", "edge-b", "edge-c", "edge-d", "edge-e"]

    @Test("10,000 devices spread over 64 shards within tolerance")
    func uniformDevices() {
        var counts = Array(repeating: 0, count: 64)
        for index in 0..<10_000 {
            counts[ShardPlacement.shard(ofDevice: "dev-\(index)", shardCount: 64)] += 1
        }
        // Expected 156 per shard, binomial σ ≈ 12.4: ±40% is over 5σ.
        #expect(counts.allSatisfy { (94...219).contains($0) }, "\(counts)")
        // And overall fit: chi-square with 63 degrees of freedom stays far below 120.
        let expected = 10_000.0 / 64
        let chiSquare = counts.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
        #expect(chiSquare < 120, "chi-square \(chiSquare)")
    }

    @Test("shards spread over members within tolerance")
    func uniformOwners() {
        var owned: [String: Int] = [:]
        for shard in 0..<1_024 { owned[ShardPlacement.owner(shard: shard, members: members)!, default: 0] += 1 }
        // Expected 204.8 each, σ ≈ 12.8.
        #expect(owned.count == members.count && owned.values.allSatisfy { (140...270).contains($0) }, "\(owned)")
    }

    @Test("placement is pinned: the same in every process and on every platform")
    func pinned() {
        // A change here would reshuffle every deployed site.
        #expect(ShardPlacement.shard(ofDevice: "pump-1", shardCount: 64) == Self.pinnedShard)
        #expect(ShardPlacement.preferredOwners(shard: 7, members: members) == Self.pinnedOwners)
    }

    // From an independent Python reimplementation of StableHasher (FNV-1a + SplitMix64).
    static let pinnedShard = 8
    static let pinnedOwners = ["edge-c", "edge-b", "edge-a", "edge-d", "edge-e"]

    @Test("the preference order does not depend on the order members are listed in", arguments: PropertySeeds.seeds(default: 20))
    func orderStable(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        for shard in 0..<64 {
            let order = ShardPlacement.preferredOwners(shard: shard, members: members)
            #expect(Set(order) == Set(members) && order.count == members.count)
            let shuffled = members.shuffled(using: &random) + [random.pick(members)]  // with a duplicate
            #expect(ShardPlacement.preferredOwners(shard: shard, members: shuffled) == order, "seed \(seed)")
        }
    }

    @Test("removing a member moves only the shards it owned, and the rest keep their order", arguments: PropertySeeds.seeds(default: 20))
    func minimalDisruption(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let count = random.int(in: 2...members.count)
        let site = Array(members.shuffled(using: &random).prefix(count))
        let removed = random.pick(site)
        let remaining = site.filter { $0 != removed }
        var moved = 0
        for shard in 0..<64 {
            let before = ShardPlacement.preferredOwners(shard: shard, members: site)
            let after = ShardPlacement.preferredOwners(shard: shard, members: remaining)
            #expect(after == before.filter { $0 != removed }, "seed \(seed) shard \(shard)")
            if before.first != after.first {
                moved += 1
                #expect(before.first == removed, "seed \(seed) shard \(shard)")
                // The takeover goes to the next in line, which every node can compute alone.
                #expect(after.first == before[1], "seed \(seed) shard \(shard)")
            }
        }
        #expect(moved == (0..<64).filter { ShardPlacement.owner(shard: $0, members: site) == removed }.count)
    }
}
