@testable import FoglineEdge
import FoglineTesting
import Testing

@Suite("Followed totals")
struct FollowedTotalTests {
    @Test("the growths add up to the highest total seen, whatever the sequence of looks", arguments: PropertySeeds.seeds(default: 100))
    func growthsAddUp(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var followed = FollowedTotal()
        var total = 0
        var highest = 0
        var counted = 0
        for _ in 0..<200 {
            // Mostly a running total that grows; sometimes one read from a restarted source (lower).
            total = random.chance(0.05) ? random.int(in: 0...max(0, total)) : total + random.int(in: 0...5)
            let grown = followed.growth(to: total)
            #expect(grown >= 0)
            counted += grown
            highest = max(highest, total)
            #expect(counted == highest)
        }
    }
}
