import Foundation
import Synchronization
import FoglineCore
import FoglineStore
import FoglineTesting
import Testing

@Suite("Replica window: anti-entropy batches read from the store")
struct ReplicaWindowTests {
    /// Three writers' random operations, all merged into one state and committed to a store.
    static func written(_ random: inout SeededRandom, operations: Int) throws -> (SiteState, EdgeStore, TemporaryDirectory) {
        var writers = ["edge-a", "edge-b", "cloud.x"].map { RandomSiteWriter(name: $0) }
        var state = SiteState()
        let (store, directory) = try EdgeStore.temporary()
        for _ in 0..<operations {
            let index = random.int(in: 0...2)
            let delta = writers[index].randomOperation(using: &random)
            state.merge(delta)
            try store.commit(StoreBatch(deltas: [delta], context: state.context, alarms: state.alarms))
        }
        return (state, store, directory)
    }

    /// A peer holding a random part of `state`: some writers' prefixes and scattered dots.
    static func peer(of state: SiteState, _ random: inout SeededRandom) -> ReplicaSummary {
        var context = CausalContext()
        for (node, counter) in state.context.versionVector {
            let prefix = UInt64(random.int(in: 0...Int(counter)))
            context.formUnion(CausalContext(versionVector: [(node, prefix)]))
            for extra in (prefix + 1)...max(prefix + 1, counter) where random.chance(0.15) {
                context.insert(Dot(node: node, counter: extra))
            }
        }
        let digest = random.chance(0.5) ? state.alarms.digest : 0
        return ReplicaSummary(context: context, kernelDigest: digest)
    }

    static func entriesPerWriter(_ state: SiteState) -> [NodeID: Int] {
        var counts: [NodeID: Int] = [:]
        func count(_ store: some EntryDotStore) { store.forEachDot { counts[$0.node, default: 0] += 1 } }
        count(state.registry)
        count(state.presence)
        count(state.reported)
        count(state.desired)
        count(state.counters)
        count(state.rollups)
        count(state.raw)
        return counts
    }

    @Test("the window's batch equals the whole state's batch, for random peers and batch sizes",
          arguments: PropertySeeds.seeds(default: 25))
    func windowBatchEqualsStateBatch(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let (state, store, directory) = try Self.written(&random, operations: random.int(in: 20...160))
        defer { withExtendedLifetime(directory) {} }
        for _ in 0..<6 {
            let peer = random.chance(0.2) ? ReplicaSummary(context: CausalContext(), kernelDigest: 0) : Self.peer(of: state, &random)
            let maxEntries = random.pick([1, 3, 10, 50, 5_000])
            let expected = state.batch(since: peer, maxEntries: maxEntries)
            let window = try store.replicaWindow(since: peer, entriesPerWriter: maxEntries)
            let actual = window.batch(since: peer, maxEntries: maxEntries)
            #expect(actual == expected, "seed \(seed), maxEntries \(maxEntries), peer \(peer.context)")
            // All tables together read up to the cut: per writer, no more than the batch could need.
            for (writer, count) in Self.entriesPerWriter(window) {
                let beyond = peer.context.cloud.filter { $0.node == writer }.count
                #expect(count <= maxEntries + 1 + beyond, "seed \(seed): \(count) entries of \(writer) read for \(maxEntries)")
            }
        }
        #expect(try store.replicaSummary() == state.summary)
    }

    @Test("one table holding more missing entries than a batch: the batch stops at a limit and claims no more")
    func oneFullTable() throws {
        let (store, directory) = try EdgeStore.temporary()
        defer { withExtendedLifetime(directory) {} }
        var state = SiteState()
        let node = NodeID(name: "edge-a")
        for index in 0..<10 {
            let delta = state.set(
                .registry, device: "device-\(index)", fields: [("profile", .string("meter"))],
                stamp: HLCTimestamp(milliseconds: 1_763_800_000_000 + UInt64(index), counter: 0, node: node))
            try store.commit(StoreBatch(deltas: [delta], context: state.context))
        }
        let empty = ReplicaSummary(context: CausalContext(), kernelDigest: state.alarms.digest)
        let batch = try #require(try store.replicaWindow(since: empty, entriesPerWriter: 5).batch(since: empty, maxEntries: 5))
        #expect(batch == state.batch(since: empty, maxEntries: 5))
        #expect(batch.context == CausalContext(versionVector: [(node, UInt64(5))]))
        #expect(batch.registry?.deviceIDs.count == 5)
    }

    @Test("batches from the store bring an empty replica to the stored state", arguments: PropertySeeds.seeds(default: 10))
    func batchesConverge(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let (state, store, directory) = try Self.written(&random, operations: 120)
        defer { withExtendedLifetime(directory) {} }
        var replica = SiteState()
        var rounds = 0
        while let batch = try store.replicaWindow(since: replica.summary, entriesPerWriter: 7).batch(since: replica.summary, maxEntries: 7) {
            let before = replica
            replica.merge(batch)
            rounds += 1
            if replica == before || rounds > 500 { break }
        }
        #expect(replica == state, "seed \(seed): \(differingParts(replica, state)) after \(rounds) batches")
    }
}

@Suite("Raw retention as the uplink's outbox bound")
struct RawRetentionTests {
    @Test("retention counts, per device, the deleted readings the holder's context lacks")
    func lostReadingsCounted() throws {
        let (store, directory) = try EdgeStore.temporary()
        defer { withExtendedLifetime(directory) {} }
        var state = SiteState()
        let node = NodeID(name: "edge-a")
        var deltas: [SiteDelta] = []
        for seq in 0..<10 as Range<UInt64> {
            for device in ["m-1", "m-2"] {
                deltas.append(telemetryDelta(&state, device: device, seq: seq, node: node, milliseconds: 1_763_800_000_000 + seq * 1_000))
            }
        }
        try store.commit(StoreBatch(deltas: deltas, context: state.context))
        // The aggregator holds the first four readings of each device (with their rollup dots).
        var held = CausalContext()
        for delta in deltas.prefix(8) { held.formUnion(delta.context) }
        let (deleted, lost) = try store.pruneRawTelemetry(keepingPerDevice: 3, notHeldBy: held)
        #expect(deleted == 14)
        #expect(lost == ["m-1": 3, "m-2": 3], "seqs 4, 5 and 6 of each device were never held")
        #expect(try store.rawTelemetry(device: "m-1", limit: 100).map(\.key.seq) == [7, 8, 9])
        let again = try store.pruneRawTelemetry(keepingPerDevice: 3, notHeldBy: CausalContext())
        #expect(again.deleted == 0 && again.lost.isEmpty)
    }

    @Test("a window read while readings are being committed holds every reading its context covers")
    func windowDuringCommits() throws {
        let (store, directory) = try EdgeStore.temporary()
        defer { _ = directory }
        var state = SiteState()
        let items = TelemetryJournalTests.readings(&state, count: 3_000)
        // Each batch carries only its deltas' contexts, as the edge commits them.
        let batches = stride(from: 0, to: items.count, by: 5).map { start in
            StoreBatch(deltas: items[start..<min(start + 5, items.count)].map(\.0))
        }
        // Each reading's raw dot: a window covering it must carry it.
        let rawDots = Set(items.flatMap { $0.0.raw?.readings.values.map(\.dot) ?? [] })
        let commitErrors = Mutex<[String]>([])
        let done = Atomic<Bool>(false)
        let writerFinished = DispatchSemaphore(value: 0)
        let writing = Thread {
            for batch in batches {
                do { try store.commit(batch) } catch { commitErrors.withLock { $0.append("\(error)") } }
            }
            done.store(true, ordering: .releasing)
            writerFinished.signal()
        }
        writing.start()
        // Read windows until the writer is done (or, as each window reads everything stored so
        // far and can win the store's queue many times in a row on two cores, until
        // `windowsToRead` were read while it wrote), then once more: every window, whenever it
        // was read, carries each reading its context covers.
        let windowsToRead = 150
        var windows = 0
        var windowsDuringCommits = 0
        var last = false
        while !last {
            last = done.load(ordering: .acquiring)
            let window = try store.replicaWindow(since: ReplicaSummary(context: CausalContext(), kernelDigest: 0), entriesPerWriter: 1_000_000)
            var carried = Set<Dot>()
            window.raw.forEachDot { carried.insert($0) }
            let claimedWithoutRow = rawDots.filter { window.context.contains($0) }.subtracting(carried)
            try #require(claimedWithoutRow.count == 0, "window \(windows) covers \(claimedWithoutRow.count) readings it does not carry, e.g. \(claimedWithoutRow.prefix(3))")
            windows += 1
            if !last { windowsDuringCommits += 1 }
            if windowsDuringCommits == windowsToRead && !last { writerFinished.wait() }
        }
        #expect(windowsDuringCommits > 0, "no window was read while commits went on: the test showed nothing")
        #expect(commitErrors.withLock { $0 }.isEmpty)
        let final = try store.replicaWindow(since: ReplicaSummary(context: CausalContext(), kernelDigest: 0), entriesPerWriter: 1_000_000)
        var carried = Set<Dot>()
        final.raw.forEachDot { carried.insert($0) }
        #expect(carried == rawDots, "after the last commit the window carries every reading")
    }
}
