import FoglineCore
@testable import FoglineStore
import FoglineTesting
import GRDB
import Testing

/// The telemetry journal (raw readings, deferred rollup cells and ingest rows appended in arrival
/// order, folded into the device-ordered tables now and then): whatever is committed reads back
/// exactly, whether the journal was folded or the process died (here: a store that is never
/// closed, its file reopened by a second store) with rows still in it.
@Suite("Telemetry journal")
struct TelemetryJournalTests {
    static let node = NodeID(name: "edge-a")

    /// A device plane's telemetry, as it commits it: per reading one delta (rollup cells and,
    /// when `keepRaw`, the raw reading), and the device's ingest row.
    static func readings(
        _ state: inout SiteState, count: Int, from start: Int = 0, devices: Int = 5, keepRaw: Bool = true
    ) -> [(SiteDelta, IngestRow)] {
        (start..<(start + count)).map { index in
            let seq = UInt64(index / devices)
            let device = "th-\(index % devices)"
            // Two readings per second per device, so a run crosses minute windows.
            let milliseconds = 1_763_800_000_000 + UInt64(index) * 500 / UInt64(devices)
            let delta = state.recordTelemetry(
                device: device, epoch: 1, seq: seq, deviceTime: nil,
                values: [.init(name: "temp", value: Double(index % 17)), .init(name: "rh", value: Double(index % 5))],
                stamp: HLCTimestamp(milliseconds: milliseconds, counter: 0, node: node), keepRaw: keepRaw)
            return (delta, IngestRow(device: device, epoch: 1, lastSeq: seq, received: seq + 1, duplicates: 0, gaps: 0))
        }
    }

    static func batches(_ items: [(SiteDelta, IngestRow)], size: Int, state: SiteState) -> [StoreBatch] {
        stride(from: 0, to: items.count, by: size).map { start in
            let chunk = items[start..<min(start + size, items.count)]
            return StoreBatch(deltas: chunk.map(\.0), context: state.context, ingest: chunk.map(\.1), readings: chunk.count)
        }
    }

    static func journalRows(_ path: String) throws -> (raw: Int, deferred: Int, ingest: Int) {
        try DatabaseQueue(path: path).read { db in
            (try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(readings), 0) FROM journal_segment") ?? 0,
             try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(deferred), 0) FROM journal_segment") ?? 0,
             try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(ingest_rows), 0) FROM journal_segment") ?? 0)
        }
    }

    @Test("commits defer rollups to the journal; a reopened file (as after kill -9) reads back exactly, and later commits continue exactly",
          arguments: [true, false])
    func crashWithJournalRows(keepRaw: Bool) throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("edge.sqlite")
        // Never folds by time during the test; never closed (a killed process does not close).
        let configuration = EdgeStore.Configuration(journalFoldInterval: .seconds(3_600))
        let first = try EdgeStore(path: path, configuration: configuration)
        var state = SiteState()
        let items = Self.readings(&state, count: 400, keepRaw: keepRaw)
        for batch in Self.batches(items, size: 40, state: state) { try first.commit(batch) }
        let rows = try Self.journalRows(path)
        if keepRaw {
            #expect(rows.raw == 400 && rows.deferred == 400, "every reading's rollups deferred: \(rows)")
        } else {
            #expect(rows.raw == 0, "without raw readings the rollups are written directly")
        }
        // Without raw readings every batch folds the rest of the journal first, keeping each of
        // the 5 devices' newest ingest row: 5, then the last batch's 40.
        #expect(rows.ingest == (keepRaw ? 400 : 5 + 40))
        #expect(differingParts(try first.loadSiteState(), state) == [])
        // A second process opens the file the first left behind.
        let second = try EdgeStore(path: path, configuration: configuration)
        #expect(differingParts(try second.loadSiteState(), state) == [])
        let ingest = try second.loadIngest()
        #expect(ingest.map(\.device) == (0..<5).map { "th-\($0)" })
        #expect(ingest.allSatisfy { $0.lastSeq == 79 && $0.received == 80 })
        #expect(try Self.journalRows(path).raw == 0, "opening folds the journal")
        // The restarted owner goes on from the loaded state.
        var restarted = try second.loadSiteState()
        let later = Self.readings(&restarted, count: 200, from: 400, keepRaw: keepRaw)
        for batch in Self.batches(later, size: 25, state: restarted) { try second.commit(batch) }
        #expect(differingParts(try second.loadSiteState(), restarted) == [])
        let counted = restarted.rollups.cells.values.reduce(0) { $0 + $1.count }
        #expect(counted == 600 * 2, "each reading counted once per metric")
        #expect(try second.loadIngest().allSatisfy { $0.lastSeq == 119 && $0.received == 120 })
        if keepRaw {
            #expect(try second.rawTelemetry(device: "th-3", limit: 1_000).map(\.key.seq) == Array(0..<120))
            #expect(try second.rawTelemetry(device: "th-3", after: (1, 100), limit: 5).map(\.key.seq) == [101, 102, 103, 104, 105])
        }
    }

    @Test("folding at every commit, never, or at random points stores the same state", arguments: PropertySeeds.seeds(default: 20))
    func foldPointsDoNotMatter(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        var state = SiteState()
        let items = Self.readings(&state, count: random.int(in: 50...300), devices: random.int(in: 1...7))
        let size = random.int(in: 1...30)
        var results: [SiteState] = []
        for interval in [Duration.zero, .seconds(3_600)] {
            let directory = try TemporaryDirectory()
            let store = try EdgeStore(path: directory.file("edge.sqlite"), configuration: .init(journalFoldInterval: interval))
            for batch in Self.batches(items, size: size, state: state) {
                try store.commit(batch)
                // Retention folds the journal too, at whatever point it runs.
                if random.chance(0.1) { _ = try store.pruneRawTelemetry(keepingPerDevice: 1_000) }
            }
            results.append(try store.loadSiteState())
        }
        for result in results { #expect(differingParts(result, state) == [], "seed \(seed)") }
    }

    @Test("a fold that moves the devices a slice at a time stores what one pass stores", arguments: PropertySeeds.seeds(default: 20))
    func foldSlices(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        var state = SiteState()
        let items = Self.readings(&state, count: random.int(in: 1...400), devices: random.int(in: 1...40))
        let batches = Self.batches(items, size: random.int(in: 1...50), state: state)
        let sliceReadings = random.int(in: 1...60)
        var folded: [(SiteState, [IngestRow])] = []
        for slice in [sliceReadings, TelemetryJournal.foldSliceReadings] {
            let directory = try TemporaryDirectory()
            let store = try EdgeStore(path: directory.file("edge.sqlite"), configuration: .init(journalFoldInterval: .seconds(3_600)))
            // Two folds: the second finds stored chunks to append to.
            for (index, batch) in batches.enumerated() {
                try store.commit(batch)
                if index == batches.count / 2 { try store.foldJournal(sliceReadings: slice) }
            }
            try store.foldJournal(sliceReadings: slice)
            #expect(try Self.journalRows(directory.file("edge.sqlite")).raw == 0, "seed \(seed)")
            #expect(try RawChunkTests.invariantViolations(store) == [], "seed \(seed)")
            folded.append((try store.loadSiteState(), try store.loadIngest()))
        }
        #expect(differingParts(folded[0].0, state) == [], "seed \(seed), slices of \(sliceReadings) readings")
        #expect(differingParts(folded[1].0, state) == [], "seed \(seed)")
        #expect(folded[0].1 == folded[1].1, "seed \(seed), slices of \(sliceReadings) readings")
        #expect(folded[0].1.count == Set(items.map(\.1.device)).count, "seed \(seed)")
    }

    @Test("a batch whose rollups cannot be replayed from its readings folds the journal and writes them directly")
    func undeferrableBatch() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("edge.sqlite")
        let store = try EdgeStore(path: path, configuration: .init(journalFoldInterval: .seconds(3_600)))
        var state = SiteState()
        for batch in Self.batches(Self.readings(&state, count: 30), size: 10, state: state) { try store.commit(batch) }
        #expect(try Self.journalRows(path).deferred == 30)
        // A peer's rollup cell without its readings.
        var peer = SiteState()
        let remote = peer.recordTelemetry(
            device: "th-0", epoch: 1, seq: 0, deviceTime: nil, values: [.init(name: "temp", value: 99)],
            stamp: HLCTimestamp(milliseconds: 1_763_800_000_000, counter: 0, node: NodeID(name: "edge-b")), keepRaw: false)
        state.merge(remote)
        try store.commit(StoreBatch(deltas: [remote], context: state.context))
        #expect(try Self.journalRows(path).deferred == 0)
        for batch in Self.batches(Self.readings(&state, count: 30, from: 30), size: 10, state: state) { try store.commit(batch) }
        #expect(try Self.journalRows(path).deferred == 30)
        #expect(differingParts(try store.loadSiteState(), state) == [])
    }

    @Test("the site's telemetry stats and a device's stored seqs read the journal and the folded table alike")
    func telemetryStatsOverJournalAndTable() throws {
        let directory = try TemporaryDirectory()
        let store = try EdgeStore(path: directory.file("edge.sqlite"), configuration: .init(journalFoldInterval: .seconds(3_600)))
        var state = SiteState()
        // th-0 … th-4, seqs 0 …, 39; th-2's seq 7 never arrives.
        let items = Self.readings(&state, count: 200).filter { $0.1.device != "th-2" || $0.1.lastSeq != 7 }
        for batch in Self.batches(items, size: 40, state: state) { try store.commit(batch) }
        #expect(try Self.journalRows(directory.file("edge.sqlite")).raw > 0, "the readings are still in the journal")
        // Another node stored one of th-0's readings too (after a takeover): the same key counts once.
        var other = SiteState()
        let copy = other.recordTelemetry(
            device: "th-0", epoch: 1, seq: 3, deviceTime: nil, values: [.init(name: "temp", value: 1)],
            stamp: HLCTimestamp(milliseconds: 1_763_800_100_000, counter: 0, node: NodeID(name: "edge-b")), keepRaw: true)
        try store.commit(StoreBatch(deltas: [copy], context: other.context))

        func check(_ moment: Comment) throws {
            #expect(try store.rawTelemetrySummary(device: "th-0") == RawTelemetrySummary(received: 40, gaps: 0, lastSeq: 39), moment)
            #expect(try store.rawTelemetrySummary(device: "th-2") == RawTelemetrySummary(received: 39, gaps: 1, lastSeq: 39), moment)
            #expect(try store.rawTelemetrySummary(device: "nobody") == nil, moment)
            #expect(try store.storedSeqs(device: "th-2", epoch: 1, newest: 34) == Array(5...6) + Array(8...39), moment)
            #expect(try store.storedSeqs(device: "th-2", epoch: 2, newest: 10).isEmpty, moment)
        }
        try check("with rows in the journal")
        _ = try store.pruneRawTelemetry(keepingPerDevice: 1_000)  // folds the journal, deletes nothing
        #expect(try Self.journalRows(directory.file("edge.sqlite")).raw == 0)
        try check("after the fold")
    }
}
