import FoglineCore
import FoglineStore
import FoglineTesting
import Testing

/// The store is a durable replica of the site state: whatever deltas it is sent, in whatever
/// grouping and order, duplicated or replayed late, `loadSiteState()` equals the state that
/// merged the same deltas in memory.
@Suite("Site state persistence")
struct SiteStatePersistenceTests {
    /// Random writers' deltas, partly shuffled (out of order, as peers deliver them).
    static func randomDeltas(using random: inout SeededRandom) -> [SiteDelta] {
        let writerCount = random.int(in: 1...4)
        var writers = (0..<writerCount).map { RandomSiteWriter(name: "edge-\($0)") }
        var deltas: [SiteDelta] = []
        for _ in 0..<random.int(in: 10...200) {
            deltas.append(writers[random.int(in: 0...(writerCount - 1))].randomOperation(using: &random))
        }
        for _ in 0..<random.int(in: 0...(deltas.count / 3)) {
            deltas.swapAt(random.int(in: 0...(deltas.count - 1)), random.int(in: 0...(deltas.count - 1)))
        }
        return deltas
    }

    /// The batch an owner whose state is `replica` (after merging `group`) commits: the deltas
    /// alone, with its causal context, or with its context and alarm kernel. A snapshot covers
    /// alarm-only deltas, so those are sometimes left out and the store must rely on it.
    static func batch(for group: [SiteDelta], replica: SiteState, using random: inout SeededRandom) -> StoreBatch {
        var batch = StoreBatch(deltas: group)
        switch random.int(in: 0...3) {
        case 0: break  // deltas only: the store folds contexts and kernels itself
        case 1: batch.context = replica.context
        default:
            (batch.context, batch.alarms) = (replica.context, replica.alarms)
            batch.deltas.removeAll { $0.carriesOnlyAlarms && random.chance(0.5) }
        }
        return batch
    }

    @Test("loadSiteState equals the in-memory state after random batches", arguments: PropertySeeds.seeds(default: 60))
    func storedStateEqualsMemory(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let directory = try TemporaryDirectory()
        let path = directory.file("edge.sqlite")
        var store: EdgeStore? = try EdgeStore(path: path)
        let deltas = Self.randomDeltas(using: &random)

        var replica = SiteState()  // merges in commit order, as the store's owner would
        var committed: [StoreBatch] = []
        var index = 0
        while index < deltas.count {
            let group = Array(deltas[index..<min(index + random.int(in: 1...25), deltas.count)])
            index += group.count
            for delta in group { replica.merge(delta) }
            let batch = Self.batch(for: group, replica: replica, using: &random)
            try store!.commit(batch)
            if random.chance(0.2) { try store!.commit(batch) }  // committed twice
            if !committed.isEmpty && random.chance(0.1) { try store!.commit(random.pick(committed)) }  // replayed late
            committed.append(batch)
            if random.chance(0.05) {  // restart
                try store!.close()
                store = try EdgeStore(path: path)
            }
        }
        var inOrder = SiteState()
        for delta in deltas { inOrder.merge(delta) }

        let loaded = try store!.loadSiteState()
        #expect(differingParts(loaded, replica) == [], "seed \(seed): the stored state differs from the replica")
        #expect(differingParts(loaded, inOrder) == [], "seed \(seed): the stored state differs from the state merged in generation order")

        // Local retention removes the same readings on disk as in memory.
        let limit = random.int(in: 0...6)
        let droppedInMemory = replica.pruneRawTelemetry(keepingPerDevice: limit)
        #expect(try store!.pruneRawTelemetry(keepingPerDevice: limit) == droppedInMemory, "seed \(seed)")
        let pruned = try store!.loadSiteState()
        #expect(differingParts(pruned, replica) == [], "seed \(seed): the pruned states differ")
        #expect(try store!.integrityCheck() == "ok")
    }

    @Test("batches coalesced by StoreBatch.append write what committing them one by one writes",
          arguments: PropertySeeds.seeds(default: 30))
    func appendedBatchesEqualSequentialCommits(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let (oneByOne, directoryA) = try EdgeStore.temporary()
        let (coalesced, directoryB) = try EdgeStore.temporary()
        defer { _ = (directoryA, directoryB) }
        let deltas = Self.randomDeltas(using: &random)
        var replica = SiteState()
        var pending = StoreBatch()
        for delta in deltas {
            replica.merge(delta)
            let batch = Self.batch(for: [delta], replica: replica, using: &random)
            try oneByOne.commit(batch)
            pending.append(batch)
            if random.chance(0.1) {
                try coalesced.commit(pending)
                pending = StoreBatch()
            }
        }
        try coalesced.commit(pending)
        let (committedOneByOne, committedCoalesced) = (try oneByOne.loadSiteState(), try coalesced.loadSiteState())
        #expect(differingParts(committedOneByOne, replica) == [], "seed \(seed)")
        #expect(differingParts(committedCoalesced, replica) == [], "seed \(seed)")
    }

    @Test("last-writer-wins compares HLC stamps and writer ids over the full 64-bit range")
    func extremeStampsAndNodeIDs() throws {
        let (store, directory) = try EdgeStore.temporary()
        defer { _ = directory }
        let low = NodeID(rawValue: 0x7FFF_FFFF_FFFF_FFFF)
        let high = NodeID(rawValue: 0x8000_0000_0000_0000)
        let top = HLCTimestamp.maxMilliseconds
        var stateLow = SiteState()
        var stateHigh = SiteState()
        // Same logical time: the writer id breaks the tie, and 0x8000… > 0x7FFF… unsigned.
        let fromHigh = stateHigh.set(
            .desired, device: "pump-1", fields: [("setpoint", .number(21))],
            stamp: HLCTimestamp(milliseconds: top, counter: 0xFFFF, node: high))
        let fromLow = stateLow.set(
            .desired, device: "pump-1", fields: [("setpoint", .number(19))],
            stamp: HLCTimestamp(milliseconds: top, counter: 0xFFFF, node: low))
        // A logical time above 2^63 beats one below it.
        let early = stateHigh.setPresence(device: "pump-1", online: true, stamp: HLCTimestamp(milliseconds: 1, counter: 0, node: high))
        let late = stateLow.setPresence(device: "pump-1", online: false, stamp: HLCTimestamp(milliseconds: top, counter: 1, node: low))
        var replica = SiteState()
        for delta in [fromHigh, fromLow, late, early] {
            replica.merge(delta)
            try store.commit(StoreBatch(deltas: [delta]))
        }
        let loaded = try store.loadSiteState()
        #expect(differingParts(loaded, replica) == [])
        #expect(loaded.desired.value("setpoint", of: "pump-1") == .number(21))
        #expect(loaded.presence["pump-1"]?.value.online == false)
    }

    @Test("field values of every kind round-trip, NaN and infinities included")
    func fieldValueKinds() throws {
        let (store, directory) = try EdgeStore.temporary()
        defer { _ = directory }
        var state = SiteState()
        let node = NodeID(name: "edge-a")
        let fields: [(String, FieldValue)] = [
            ("none", .null), ("on", .bool(true)), ("off", .bool(false)), ("big", .number(.greatestFiniteMagnitude)),
            ("inf", .number(-.infinity)), ("tiny", .number(.leastNonzeroMagnitude)), ("name", .string("Größe 🔥")),
            ("empty", .string("")),
        ]
        let delta = state.set(.reported, device: "aq-5", fields: fields, stamp: HLCTimestamp(milliseconds: 1_000, counter: 0, node: node))
        let nan = state.set(.registry, device: "aq-5", fields: [("odd", .number(.nan))], stamp: HLCTimestamp(milliseconds: 2_000, counter: 0, node: node))
        try store.commit(StoreBatch(deltas: [delta, nan]))
        let loaded = try store.loadSiteState()
        #expect(loaded.reported == state.reported)
        guard case .number(let value)? = loaded.registry.value("odd", of: "aq-5") else {
            Issue.record("the NaN field was not read back as a number")
            return
        }
        #expect(value.isNaN)
    }

    @Test("raw readings round-trip bit for bit: empty names and lists, NaN, infinities, no device time")
    func rawReadingEdgeCases() throws {
        let (store, directory) = try EdgeStore.temporary()
        defer { _ = directory }
        var state = SiteState()
        let node = NodeID(name: "edge-a")
        let stamp = HLCTimestamp(milliseconds: 1_000, counter: 0, node: node)
        let values: [RawTelemetry.Metric] = [
            .init(name: "", value: -0.0), .init(name: "🔥 temp", value: .infinity), .init(name: "odd", value: .nan),
            .init(name: String(repeating: "x", count: 300), value: .leastNonzeroMagnitude),
        ]
        let deltas = [
            state.recordTelemetry(device: "", epoch: 0, seq: 0, deviceTime: nil, values: [], stamp: stamp, keepRaw: true),
            state.recordTelemetry(device: "meter.3", epoch: UInt64.max, seq: 1 << 53, deviceTime: -1, values: values, stamp: stamp, keepRaw: true),
        ]
        try store.commit(StoreBatch(deltas: deltas))
        let empty = try store.rawTelemetry(device: "", limit: 10)
        #expect(empty.map(\.reading) == [RawTelemetry.Reading(values: [], deviceTime: nil, stamp: stamp, dotCounter: 1)])
        let stored = try #require(try store.rawTelemetry(device: "meter.3", limit: 10).first)
        #expect(stored.key.seq == 1 << 53 && stored.key.epoch == .max)
        #expect(stored.reading.deviceTime == -1)
        #expect(stored.reading.values.map(\.name) == values.map(\.name))
        #expect(stored.reading.values.map(\.value.bitPattern) == values.map(\.value.bitPattern))
    }
}
