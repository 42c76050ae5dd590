import FoglineCore
import FoglineTesting
import Testing

@Suite("Hybrid logical clock")
struct HybridLogicalClockTests {
    let node = NodeID(name: "edge-a")
    let nov2025: UInt64 = 1_763_800_000_000

    @Test("timestamps strictly increase while the wall clock jumps back and forth", arguments: PropertySeeds.seeds(default: 50))
    func monotonicUnderWallClockJumps(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var wall = nov2025
        var clock = HybridLogicalClock(node: node, persistedBound: nil, wallMilliseconds: wall)
        var previous = clock.lastIssued
        for _ in 0..<2_000 {
            switch random.int(in: 0...9) {
            case 0: wall -= UInt64(random.int(in: 0...3_600_000))  // NTP step back, up to an hour
            case 1: wall += UInt64(random.int(in: 0...3_600_000))
            default: wall += UInt64(random.int(in: 0...3))
            }
            let next = clock.now(wallMilliseconds: wall).timestamp
            #expect(next > previous, "seed \(seed): \(next) after \(previous)")
            #expect(next.milliseconds >= wall || next.milliseconds >= previous.milliseconds, "seed \(seed)")
            previous = next
        }
    }

    @Test("now() follows the wall clock when it moves forward")
    func followsWallClock() {
        var clock = HybridLogicalClock(node: node, persistedBound: nil, wallMilliseconds: nov2025)
        let first = clock.now(wallMilliseconds: nov2025 + 5).timestamp
        #expect(first.milliseconds == nov2025 + 5 && first.counter == 0)
        let second = clock.now(wallMilliseconds: nov2025 + 5).timestamp
        #expect(second.milliseconds == nov2025 + 5 && second.counter == 1)
    }

    @Test("a remote timestamp beyond maxOffset is rejected and leaves the clock unchanged")
    func rejectsFarFuture() throws {
        var clock = HybridLogicalClock(
            node: node, configuration: .init(maxOffsetMilliseconds: 500), persistedBound: nil, wallMilliseconds: nov2025)
        _ = clock.now(wallMilliseconds: nov2025)
        let before = clock
        let peer = NodeID(name: "edge-b")
        let hourAhead = HLCTimestamp(milliseconds: nov2025 + 3_600_000, counter: 0, node: peer)
        #expect(throws: HybridLogicalClock.Rejection.tooFarAhead(
            remote: hourAhead, aheadByMilliseconds: 3_600_000, maxOffsetMilliseconds: 500)
        ) {
            try clock.update(receiving: hourAhead, wallMilliseconds: nov2025)
        }
        #expect(clock.lastIssued == before.lastIssued)
        #expect(clock.lastRequestedBound == before.lastRequestedBound)
        // Just inside the limit is adopted, with the counter bumped past it.
        let justInside = HLCTimestamp(milliseconds: nov2025 + 500, counter: 7, node: peer)
        let adopted = try clock.update(receiving: justInside, wallMilliseconds: nov2025).timestamp
        #expect(adopted.milliseconds == nov2025 + 500 && adopted.counter == 8 && adopted.node == node)
        #expect(adopted > justInside)
        #expect("\(HybridLogicalClock.Rejection.tooFarAhead(remote: hourAhead, aheadByMilliseconds: 1, maxOffsetMilliseconds: 2))".contains("NTP"))
    }

    @Test("counter overflow borrows the next millisecond")
    func counterOverflow() {
        var clock = HybridLogicalClock(node: node, persistedBound: nil, wallMilliseconds: nov2025)
        var previous = clock.lastIssued
        for _ in 0..<70_000 {
            let next = clock.now(wallMilliseconds: nov2025).timestamp
            #expect(next > previous)
            previous = next
        }
        #expect(previous.milliseconds == nov2025 + 1)
        #expect(previous.counter == UInt16(70_000 - 65_536))
    }

    @Test("a restart with the wall clock in 1970 continues after the persisted bound, untrusted until NTP")
    func restartFrom1970() {
        var clock = HybridLogicalClock(node: node, persistedBound: nil, wallMilliseconds: nov2025)
        var persisted: UInt64?
        var issued: [HLCTimestamp] = []
        for step in 0..<10_000 {
            let tick = clock.now(wallMilliseconds: nov2025 + UInt64(step / 3))
            if let bound = tick.boundToPersist { persisted = bound }
            issued.append(tick.timestamp)
            // Every issued timestamp stays under the bound handed to the shell.
            #expect(tick.timestamp.milliseconds <= persisted ?? 0)
        }
        #expect(clock.trust(wallMilliseconds: nov2025 + 3_333) == .trusted)

        // Power cut; the board boots without an RTC.
        let bootWall: UInt64 = 12_000
        var restarted = HybridLogicalClock(node: node, persistedBound: persisted, wallMilliseconds: bootWall)
        guard case .untrusted(let behind) = restarted.trust(wallMilliseconds: bootWall) else {
            Issue.record("a clock restored in 1970 must be untrusted")
            return
        }
        #expect(behind > nov2025 - 1_000_000)
        var previous = issued.last!
        for step in 0..<100 {
            let next = restarted.now(wallMilliseconds: bootWall + UInt64(step)).timestamp
            #expect(next > previous)
            previous = next
        }
        // NTP syncs: the wall clock jumps forward past the bound, the clock follows and is trusted.
        let synced = (persisted ?? 0) + 60_000
        let afterSync = restarted.now(wallMilliseconds: synced).timestamp
        #expect(afterSync.milliseconds == synced && afterSync > previous)
        #expect(restarted.trust(wallMilliseconds: synced) == .trusted)
    }

    @Test("a receive is ordered after its send across nodes with skewed clocks", arguments: PropertySeeds.seeds(default: 30))
    func causality(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let names = ["a", "b", "c", "d"]
        var skews = names.map { _ in Int64(random.int(in: -200...200)) }  // pairwise skew stays under maxOffset
        var clocks = names.map { HybridLogicalClock(node: NodeID(name: $0), persistedBound: nil, wallMilliseconds: nov2025) }
        var trueTime = nov2025
        var inFlight: [(to: Int, stamp: HLCTimestamp)] = []
        func wall(_ index: Int) -> UInt64 { UInt64(Int64(trueTime) + skews[index]) }
        for _ in 0..<3_000 {
            trueTime += UInt64(random.int(in: 0...5))
            if random.chance(0.05) { skews[random.int(in: 0...3)] = Int64(random.int(in: -200...200)) }
            let sender = random.int(in: 0...3)
            if random.chance(0.5) || inFlight.isEmpty {
                let sent = clocks[sender].now(wallMilliseconds: wall(sender)).timestamp
                inFlight.append((to: (sender + random.int(in: 1...3)) % 4, stamp: sent))
            } else {
                let message = inFlight.remove(at: random.int(in: 0...(inFlight.count - 1)))
                let received = try clocks[message.to].update(receiving: message.stamp, wallMilliseconds: wall(message.to)).timestamp
                #expect(received > message.stamp, "seed \(seed)")
                let later = clocks[message.to].now(wallMilliseconds: wall(message.to)).timestamp
                #expect(later > received, "seed \(seed)")
            }
        }
    }

    @Test("the persisted bound always covers what was issued, also via update()", arguments: PropertySeeds.seeds(default: 20))
    func boundCoversIssued(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var clock = HybridLogicalClock(node: node, persistedBound: nil, wallMilliseconds: nov2025)
        var persisted: UInt64 = 0
        var wall = nov2025
        var persists = 0
        for _ in 0..<5_000 {
            wall += UInt64(random.int(in: 0...40))
            let tick: HybridLogicalClock.Tick
            if random.chance(0.3) {
                let remote = HLCTimestamp(milliseconds: wall + UInt64(random.int(in: 0...400)), counter: 3, node: NodeID(name: "peer"))
                guard let received = try? clock.update(receiving: remote, wallMilliseconds: wall) else {
                    Issue.record("seed \(seed): a timestamp within maxOffset was rejected")
                    return
                }
                tick = received
            } else {
                tick = clock.now(wallMilliseconds: wall)
            }
            if let bound = tick.boundToPersist {
                #expect(bound > persisted)
                persisted = bound
                persists += 1
            }
            #expect(tick.timestamp.milliseconds <= persisted, "seed \(seed)")
        }
        // One write per half window, not one per timestamp.
        let elapsed = wall - nov2025
        #expect(persists <= Int(elapsed / 1_000) + 2, "seed \(seed): \(persists) persists in \(elapsed) ms")
    }

    @Test("text form round-trips and sorts like the timestamps")
    func textForm() {
        let stamp = HLCTimestamp(milliseconds: nov2025, counter: 42, node: NodeID(name: "edge-a"))
        #expect(HLCTimestamp(stamp.description) == stamp)
        #expect(stamp.description.hasPrefix("1763800000000.00042@"))
        for bad in ["", "1.2", "x.1@0000000000000001", "1.1@xyz", "1.99999@0000000000000001", "-1.1@0000000000000001",
                    "281474976710656.0@0000000000000001"] {
            #expect(HLCTimestamp(bad) == nil, "accepted \(bad)")
        }
        let later = HLCTimestamp(milliseconds: nov2025, counter: 43, node: NodeID(name: "edge-a"))
        #expect(stamp < later && stamp.description < later.description)
    }

    @Test("node ids are stable across runs")
    func stableNodeIDs() {
        #expect(NodeID(name: "edge-a") != NodeID(name: "edge-b"))
        // Pinned: a change to the hash would silently split every deployed site's history.
        #expect(NodeID(name: "edge-a").description == "85511bad6dc5a2e6")  // FNV-1a + SplitMix64 finaliser, computed independently
        #expect(NodeID(hex: NodeID(name: "cloud").description) == NodeID(name: "cloud"))
    }
}
