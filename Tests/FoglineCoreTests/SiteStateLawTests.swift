import FoglineCore
import FoglineTesting
import Testing

/// The join-semilattice laws and the delta laws of the composite site state, over states built by
/// random operations on writers that also merge each other now and then (so states share history).
@Suite("Site state CRDT laws")
struct SiteStateLawTests {
    static func randomStates(seed: UInt64, writers count: Int = 3, operations: Int = 60) -> [SiteState] {
        var random = SeededRandom(seed: seed)
        var writers = (0..<count).map { RandomSiteWriter(name: "edge-\($0)") }
        for _ in 0..<operations {
            let index = random.int(in: 0...(count - 1))
            _ = writers[index].randomOperation(using: &random)
            if random.chance(0.1) {
                let other = random.int(in: 0...(count - 1))
                writers[index].state.merge(writers[other].state)
            }
        }
        return writers.map(\.state)
    }

    static func joined(_ a: SiteState, _ b: SiteState) -> SiteState {
        var result = a
        result.merge(b)
        return result
    }

    @Test("merge is commutative", arguments: PropertySeeds.seeds(default: 150))
    func commutative(seed: UInt64) {
        let states = Self.randomStates(seed: seed)
        #expect(Self.joined(states[0], states[1]) == Self.joined(states[1], states[0]), "seed \(seed)")
    }

    @Test("merge is associative", arguments: PropertySeeds.seeds(default: 150))
    func associative(seed: UInt64) {
        let s = Self.randomStates(seed: seed)
        #expect(Self.joined(Self.joined(s[0], s[1]), s[2]) == Self.joined(s[0], Self.joined(s[1], s[2])), "seed \(seed)")
    }

    @Test("merge is idempotent", arguments: PropertySeeds.seeds(default: 150))
    func idempotent(seed: UInt64) {
        let s = Self.randomStates(seed: seed)
        #expect(Self.joined(s[0], s[0]) == s[0], "seed \(seed)")
        let once = Self.joined(s[0], s[1])
        #expect(Self.joined(once, s[1]) == once, "seed \(seed)")
    }

    @Test("delta(since: peer) merged into the peer equals the full merge", arguments: PropertySeeds.seeds(default: 200))
    func deltaSinceEqualsFullMerge(seed: UInt64) {
        let s = Self.randomStates(seed: seed)
        for (sender, receiver) in [(0, 1), (1, 0), (2, 0), (0, 2)] {
            var viaDelta = s[receiver]
            if let delta = s[sender].delta(since: s[receiver].summary) { viaDelta.merge(delta) }
            #expect(viaDelta == Self.joined(s[receiver], s[sender]), "seed \(seed): \(sender)→\(receiver)")
        }
    }

    @Test("delta(since:) is nil between equal replicas, non-nil when the peer lacks dots, and absorbed by a peer that is ahead",
          arguments: PropertySeeds.seeds(default: 100))
    func deltaSinceIsMinimal(seed: UInt64) {
        let s = Self.randomStates(seed: seed)
        let merged = Self.joined(s[0], s[1])
        #expect(merged.delta(since: merged.summary) == nil, "seed \(seed)")
        if !s[1].context.includes(s[0].context) {
            #expect(s[0].delta(since: s[1].summary) != nil, "seed \(seed)")
        }
        // A peer that is ahead may still be sent the (small) alarm kernel when its digest differs
        // (a digest cannot say which side is ahead); merging it changes nothing there.
        let toMerged = s[0].delta(since: merged.summary)
        #expect(toMerged == nil || toMerged?.carriesOnlyAlarms == true, "seed \(seed)")
        var absorbed = merged
        if let toMerged { absorbed.merge(toMerged) }
        #expect(absorbed == merged, "seed \(seed)")
    }

    @Test("a delta is below the state it came from (delta ⊑ state)", arguments: PropertySeeds.seeds(default: 100))
    func deltaBelowState(seed: UInt64) {
        let s = Self.randomStates(seed: seed)
        guard let delta = s[0].delta(since: s[1].summary) else { return }
        var absorbed = s[0]
        absorbed.merge(delta)
        #expect(absorbed == s[0], "seed \(seed)")
    }
}
