import FoglineCore
import FoglineTesting
import Testing

@Suite("Causal context")
struct CausalContextTests {
    static let nodes = (0..<4).map { NodeID(name: "n\($0)") }

    static func randomDots(_ random: inout SeededRandom, count: Int) -> [Dot] {
        (0..<count).map { _ in Dot(node: random.pick(nodes), counter: UInt64(random.int(in: 1...40))) }
    }

    @Test("behaves as the set of dots it was given, in any insertion order", arguments: PropertySeeds.seeds(default: 200))
    func matchesSetModel(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let dots = Self.randomDots(&random, count: random.int(in: 0...80))
        let model = Set(dots)
        let context = CausalContext(dots)
        let shuffled = CausalContext(dots.shuffled(using: &random))
        #expect(context == shuffled, "seed \(seed): representation depends on insertion order")
        for node in Self.nodes {
            for counter in 1...45 {
                let dot = Dot(node: node, counter: UInt64(counter))
                #expect(context.contains(dot) == model.contains(dot), "seed \(seed): \(dot)")
            }
            let ownMax = model.filter { $0.node == node }.map(\.counter).max() ?? 0
            #expect(context.nextDot(for: node).counter == ownMax + 1)
        }
        // Compacted: the cloud holds only dots beyond a gap.
        for dot in context.cloud {
            #expect(dot.counter > context.contiguousMaximum(of: dot.node) + 1, "seed \(seed): \(context)")
        }
    }

    @Test("union is set union; includes is the subset relation", arguments: PropertySeeds.seeds(default: 200))
    func unionAndIncludes(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let left = Self.randomDots(&random, count: random.int(in: 0...40))
        let right = Self.randomDots(&random, count: random.int(in: 0...40))
        let union = CausalContext(left).union(CausalContext(right))
        #expect(union == CausalContext(left + right), "seed \(seed)")
        #expect(union.includes(CausalContext(left)) && union.includes(CausalContext(right)))
        #expect(CausalContext(left).includes(CausalContext(right)) == Set(right).isSubset(of: Set(left)), "seed \(seed)")
    }

    @Test("a version vector covers every counter up to its entry")
    func versionVector() {
        let node = Self.nodes[0]
        let context = CausalContext(versionVector: [(node, UInt64(5))])
        #expect(context.contains(Dot(node: node, counter: 5)))
        #expect(!context.contains(Dot(node: node, counter: 6)))
        #expect(context.versionVector.map { $0.counter } == [5])
        var withGap = context
        withGap.insert(Dot(node: node, counter: 7))
        #expect(withGap.cloud == [Dot(node: node, counter: 7)])
        withGap.insert(Dot(node: node, counter: 6))
        #expect(withGap.cloud.isEmpty && withGap.contiguousMaximum(of: node) == 7)
    }
}
