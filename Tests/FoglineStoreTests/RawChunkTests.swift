import FoglineCore
@testable import FoglineStore
import FoglineTesting
import Foundation
import GRDB
import Testing

@Suite("Raw chunks: the folded raw readings")
struct RawChunkTests {
    @Test("a chunk decodes to what was encoded, bit for bit", arguments: PropertySeeds.seeds(default: 50))
    func roundTrip(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let writer = NodeID(rawValue: random.next())
        let chunk = RawChunk(writer: writer, entries: Self.entries(&random, writer: writer, count: random.int(in: 0...300)))
        let blob = chunk.encode()
        let decoded = try #require(blob.withUnsafeBytes { RawChunk.decode($0, writer: writer) }, "seed \(seed)")
        #expect(decoded.entries.count == chunk.entries.count)
        for (got, wanted) in zip(decoded.entries, chunk.entries) {
            #expect(got.position == wanted.position && got.reading.stamp == wanted.reading.stamp, "seed \(seed)")
            #expect(got.reading.dotCounter == wanted.reading.dotCounter && got.reading.deviceTime == wanted.reading.deviceTime)
            #expect(got.reading.values.map(\.name) == wanted.reading.values.map(\.name))
            #expect(got.reading.values.map(\.value.bitPattern) == wanted.reading.values.map(\.value.bitPattern), "seed \(seed)")
        }
        // Every truncation is refused, never misread.
        for length in stride(from: 0, to: blob.count, by: max(1, blob.count / 40)) {
            #expect(Array(blob[..<length]).withUnsafeBytes { RawChunk.decode($0, writer: writer) } == nil, "seed \(seed), \(length) bytes")
        }
    }

    @Test("a chunk keeps each position once, the earlier stamp, in (epoch, seq) order")
    func resolvesPositions() throws {
        let writer = NodeID(name: "edge-a")
        func entry(_ epoch: UInt64, _ seq: UInt64, at logical: UInt64) -> RawChunk.Entry {
            RawChunk.Entry(epoch: epoch, seq: seq, reading: .init(
                values: [.init(name: "temp", value: Double(logical))], deviceTime: nil,
                stamp: HLCTimestamp(logical: logical, node: writer), dotCounter: logical))
        }
        let chunk = RawChunk(writer: writer, entries: [entry(2, 0, at: 9), entry(1, 5, at: 7), entry(1, 5, at: 3), entry(1, 4, at: 8)])
        #expect(chunk.entries.map { [$0.epoch, $0.seq, $0.reading.stamp.logical] } == [[1, 4, 8], [1, 5, 3], [2, 0, 9]])
        #expect((chunk.minDot, chunk.maxDot) == (3, 9))
        // Two entries without metrics, at (1, 5) then (1, 5 ± 1): encode() only writes ascending positions.
        let ascending: [UInt8] = [1, 0, 2, 0, 2, 10, 2, 2, 0, 0, 0, 2, 2, 2, 0]
        let descending: [UInt8] = [1, 0, 2, 0, 2, 10, 2, 2, 0, 0, 0, 1, 2, 2, 0]
        #expect(ascending.withUnsafeBytes { RawChunk.decode($0, writer: writer) }?.entries.map(\.seq) == [5, 6])
        #expect(descending.withUnsafeBytes { RawChunk.decode($0, writer: writer) } == nil)
        #expect([UInt8]([2, 0, 0]).withUnsafeBytes { RawChunk.decode($0, writer: writer) } == nil, "an unknown format")
    }

    @Test("the chunks hold exactly what a RawTelemetry holds, across folds, duplicate ingestions and retention",
          arguments: PropertySeeds.seeds(default: 15))
    func chunksHoldTheJoin(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let (store, directory) = try EdgeStore.temporary()
        defer { _ = directory }
        let nodes = ["edge-a", "edge-b", "edge-c"].map(NodeID.init(name:))
        var writers = nodes.map { _ in SiteState() }
        var model = SiteState()
        let devices = (0..<random.int(in: 1...4)).map { "th-\($0)" }
        for _ in 0..<random.int(in: 20...200) {
            let writer = random.int(in: 0...2)
            // Few seqs and stamps that go back and forth: the same position arrives from several
            // writers, and sometimes the later arrival carries the earlier stamp.
            let delta = telemetryDelta(
                &writers[writer], device: random.pick(devices), epoch: UInt64(random.int(in: 1...2)),
                seq: UInt64(random.int(in: 0...30)), node: nodes[writer],
                milliseconds: 1_763_800_000_000 + UInt64(random.int(in: 0...100_000)))
            model.merge(delta)
            try store.commit(StoreBatch(deltas: [delta], context: model.context))
            if random.chance(0.1) {
                let limit = random.int(in: 0...20)
                _ = model.pruneRawTelemetry(keepingPerDevice: limit)
                _ = try store.pruneRawTelemetry(keepingPerDevice: limit)
            } else if random.chance(0.1) {
                _ = try store.pruneRawTelemetry(keepingPerDevice: 1_000)  // folds the journal only
            }
        }
        #expect(try store.loadSiteState().raw.readings == model.raw.readings, "seed \(seed)")
        for device in devices {
            let stored = try store.rawTelemetry(device: device, limit: 1_000)
            let wanted = model.raw.readings.filter { $0.key.device == device }.sorted { $0.key < $1.key }
            #expect(stored.map(\.key) == wanted.map(\.key) && stored.map(\.reading) == wanted.map(\.value), "seed \(seed)")
            #expect(try store.storedSeqs(device: device, epoch: 2, newest: 5) == Array(wanted.filter { $0.key.epoch == 2 }.map(\.key.seq).suffix(5)))
        }
        #expect(try store.integrityCheck() == "ok")
        #expect(try Self.invariantViolations(store) == [], "seed \(seed)")
    }

    /// Where the chunks break RawChunkStore's invariant: per device, in rowid order, strictly
    /// increasing positions across chunks, metadata that matches the readings, `stored` = their count.
    static func invariantViolations(_ store: EdgeStore) throws -> [String] {
        try store.read("check the chunks") { db in
            var violations: [String] = []
            for row in try Row.fetchAll(db, sql: "SELECT id, name, stored FROM device_name") {
                let id: Int64 = row[0], name: String = row[1], stored: Int = row[2]
                var previous: RawChunk.Position?
                var count = 0
                try RawChunkStore.walk(device: id, db: db, path: "") { chunk in
                    let decoded = try chunk.decode()
                    count += decoded.entries.count
                    if decoded.entries.isEmpty || chunk.entries != decoded.entries.count || chunk.first != decoded.entries.first?.position
                        || chunk.last != decoded.entries.last?.position {
                        violations.append("\(name): chunk \(chunk.id) metadata")
                    }
                    if let previous, !(previous < chunk.first) { violations.append("\(name): chunk \(chunk.id) starts at or before \(previous)") }
                    previous = chunk.last
                    return true
                }
                if count != stored { violations.append("\(name): stored \(stored), chunks hold \(count)") }
            }
            return violations
        }
    }

    @Test("a v4 database (a row per raw reading and per journal row) is migrated: chunks, segments, rollups by window")
    func migratesRowsPerReading() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("edge.sqlite")
        var state = SiteState()
        var deltas: [SiteDelta] = []
        for seq in 0..<40 {
            deltas.append(telemetryDelta(
                &state, device: "th-\(seq % 3)", seq: UInt64(seq), node: NodeID(name: "edge-a"),
                milliseconds: 1_763_800_000_000 + UInt64(seq) * 1_000))
        }
        let ingest = (0..<3).map { IngestRow(device: "th-\($0)", epoch: 1, lastSeq: 37 + UInt64($0), received: 14, duplicates: 1, gaps: 0, missingRanges: [1, 2]) }
        // As v4 wrote it: folded readings a row each, the newest still in raw_log (their rollups
        // written directly: 0 rollup dots), ingest rows in ingest_log, rollups keyed by device.
        let queue = try DatabaseQueue(path: path)
        try StoreSchema.migrator.migrate(queue, upTo: "v4-dot-indexes")
        try queue.write { db in
            for (key, reading) in state.raw.readings {
                try db.execute(
                    sql: """
                        INSERT INTO \(key.seq < 30 ? "raw_telemetry" : "raw_log") (device, epoch, seq, metrics, device_time_ms, logical, writer, dot_counter\(key.seq < 30 ? "" : ", rollup_dots"))
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?\(key.seq < 30 ? "" : ", 0"))
                        """,
                    arguments: [
                        key.device, StoredInteger.sortable(key.epoch), StoredInteger.bits(key.seq), MetricsBlob.encode(reading.values),
                        reading.deviceTime, StoredInteger.sortable(reading.stamp.logical),
                        StoredInteger.sortable(reading.stamp.node.rawValue), StoredInteger.bits(reading.dotCounter),
                    ])
            }
            for row in ingest {
                try db.execute(
                    sql: "INSERT INTO ingest_log (device, epoch, last_seq, received, duplicates, gaps, missing_ranges) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    arguments: [row.device, 1, Int64(row.lastSeq!), 14, 1, 0, Data(row.missingRanges)])
            }
            try CommitTransaction(db: db, path: path).upsertRollups(state.rollups)
        }
        try queue.close()
        let store = try EdgeStore(path: path)
        let loaded = try store.loadSiteState()
        #expect(loaded.raw.readings == state.raw.readings)
        #expect(loaded.rollups == state.rollups)
        #expect(try store.loadIngest() == ingest)
        #expect(try store.integrityCheck() == "ok")
        let tables = try store.read("list tables") { db in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'") }
        #expect(tables.filter { ["raw_telemetry", "raw_log", "ingest_log"].contains($0) } == [])
    }

    /// `count` entries of `writer` at distinct random positions, with extreme values mixed in.
    static func entries(_ random: inout SeededRandom, writer: NodeID, count: Int) -> [RawChunk.Entry] {
        let names = ["temp", "rh", "Größe", "", "energy_kwh"]
        let specials: [Double] = [.nan, -.infinity, .infinity, -0.0, .greatestFiniteMagnitude, .leastNonzeroMagnitude]
        var positions = Set<RawChunk.Position>()
        var entries: [RawChunk.Entry] = []
        while entries.count < count {
            let epoch = random.chance(0.1) ? random.next() : UInt64(random.int(in: 0...3))
            let seq = random.chance(0.1) ? random.next() >> 11 : UInt64(random.int(in: 0...10_000))
            guard positions.insert(RawChunk.Position(epoch: epoch, seq: seq)).inserted else { continue }
            let values = (0..<random.int(in: 0...4)).map { _ in
                RawTelemetry.Metric(
                    name: random.pick(names),
                    value: random.chance(0.2) ? random.pick(specials) : Double(random.int(in: -100_000...100_000)) / 100)
            }
            let deviceTime: Int64? = random.chance(0.2) ? nil : (random.chance(0.1) ? Int64(bitPattern: random.next()) : Int64(random.int(in: 0...1_000_000)))
            entries.append(RawChunk.Entry(
                epoch: epoch, seq: seq,
                reading: .init(
                    values: values, deviceTime: deviceTime,
                    stamp: HLCTimestamp(logical: random.chance(0.1) ? random.next() : 115_592_400_000_000_000 + UInt64(random.int(in: 0...1_000_000)), node: writer),
                    dotCounter: random.chance(0.1) ? random.next() : UInt64(random.int(in: 1...100_000)))))
        }
        return entries
    }
}
