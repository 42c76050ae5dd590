import FoglineCore
import FoglineTesting
import Testing

/// Local retention (raw readings and old rollup windows dropped from a replica's memory, as the
/// edge does once its store holds them) must not disturb the CRDT: the causal context keeps every
/// dot, merges of later deltas yield the same kept parts as without pruning, and no peer sends
/// the dropped parts back.
@Suite("Local retention of raw readings and rollup windows")
struct LocalRetentionTests {
    /// Writer 0 and writer 1 after random operations and merges, and a window boundary no newer
    /// than writer 0's current window (the precondition of `pruneRollups`).
    static func scenario(seed: UInt64) -> (writers: [RandomSiteWriter], boundary: UInt64, random: SeededRandom) {
        var random = SeededRandom(seed: seed)
        var writers = [RandomSiteWriter(name: "edge-0"), RandomSiteWriter(name: "edge-1")]
        for _ in 0..<80 {
            let index = random.int(in: 0...1)
            _ = writers[index].randomOperation(using: &random)
            if random.chance(0.15) { writers[index].state.merge(writers[1 - index].state) }
        }
        let current = TelemetryRollups.windowStart(of: writers[0].clock.lastIssued)
        let windows = writers[0].state.rollups.cells.keys.map(\.windowStart).filter { $0 <= current }
        let boundary = windows.isEmpty ? current : random.pick(windows.sorted())
        return (writers, boundary, random)
    }

    @Test("pruning keeps every dot, and later deltas yield the same kept parts", arguments: PropertySeeds.seeds(default: 150))
    func laterDeltasAgreeOnKeptParts(seed: UInt64) {
        var (writers, boundary, random) = Self.scenario(seed: seed)
        var pruned = writers[0].state
        let rawLimit = random.int(in: 0...3)
        let droppedRaw = Set(pruned.raw.readings.keys).subtracting(
            { var copy = pruned; _ = copy.pruneRawTelemetry(keepingPerDevice: rawLimit); return Set(copy.raw.readings.keys) }())
        _ = pruned.pruneRawTelemetry(keepingPerDevice: rawLimit)
        pruned.pruneRollups(windowsBefore: boundary)
        #expect(pruned.context == writers[0].state.context, "seed \(seed): pruning changed the context")

        // Later: writer 0 keeps writing (on its full state) and both replicas get its deltas and
        // what writer 1 sends.
        for _ in 0..<40 {
            if random.chance(0.25) {
                _ = writers[1].randomOperation(using: &random)
                if let delta = writers[1].state.delta(since: pruned.summary) { pruned.merge(delta) }
                if let delta = writers[1].state.delta(since: writers[0].state.summary) { writers[0].state.merge(delta) }
            } else {
                pruned.merge(writers[0].randomOperation(using: &random))
            }
        }
        let full = writers[0].state
        #expect(pruned.context == full.context, "seed \(seed)")
        #expect(pruned.registry == full.registry && pruned.presence == full.presence, "seed \(seed)")
        #expect(pruned.reported == full.reported && pruned.desired == full.desired, "seed \(seed)")
        #expect(pruned.counters == full.counters && pruned.alarms == full.alarms, "seed \(seed)")
        let keptCells = { (state: SiteState) in state.rollups.cells.filter { $0.key.windowStart >= boundary } }
        #expect(keptCells(pruned) == keptCells(full), "seed \(seed): a kept rollup window differs")
        let keptReadings = { (state: SiteState) in state.raw.readings.filter { !droppedRaw.contains($0.key) } }
        #expect(keptReadings(pruned) == keptReadings(full), "seed \(seed): a kept raw reading differs")
    }

    @Test("a peer never sends back what was pruned", arguments: PropertySeeds.seeds(default: 150))
    func prunedPartsAreNotSentBack(seed: UInt64) {
        var (writers, boundary, _) = Self.scenario(seed: seed)
        // The peer learns everything writer 0 has, then writer 0 prunes its memory.
        writers[1].state.merge(writers[0].state)
        var pruned = writers[0].state
        _ = pruned.pruneRawTelemetry(keepingPerDevice: 0)
        pruned.pruneRollups(windowsBefore: boundary)
        guard let delta = writers[1].state.delta(since: pruned.summary) else { return }
        for (key, summary) in delta.rollups?.cells ?? [:] {
            #expect(!pruned.context.contains(Dot(node: key.writer, counter: summary.dotCounter)), "seed \(seed)")
        }
        for reading in (delta.raw?.readings ?? [:]).values {
            #expect(!pruned.context.contains(reading.dot), "seed \(seed)")
        }
    }

    @Test("rollup pruning drops exactly the windows before the boundary")
    func pruneRollupsBoundary() {
        var state = SiteState()
        let node = NodeID(name: "edge-a")
        for minute in 0..<5 as Range<UInt64> {
            _ = state.recordTelemetry(
                device: "d", epoch: 1, seq: minute, deviceTime: nil, values: [.init(name: "t", value: Double(minute))],
                stamp: HLCTimestamp(milliseconds: 1_763_800_000_000 + minute * 60_000, counter: 0, node: node), keepRaw: true)
        }
        let windows = state.rollups.cells.keys.map(\.windowStart).sorted()
        #expect(windows.count == 5)
        #expect(state.pruneRollups(windowsBefore: windows[3]) == 3)
        #expect(state.rollups.cells.keys.map(\.windowStart).sorted() == Array(windows[3...]))
        #expect(state.pruneRawTelemetry(keepingPerDevice: 0) == 5)
        #expect(state.context.contiguousMaximum(of: node) == 10)
    }
}
