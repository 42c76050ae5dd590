import FoglineCore
import GRDB
import Synchronization

/// The telemetry journal: how a commit writes a few pages however many devices it carries.
///
/// Why: `raw_chunk`, `rollup` and `ingest_state` are clustered (by device, by window), so a
/// commit that upserted into them would rewrite (in the write-ahead log, and later in the
/// database file) about one page per device it carries in each: 200 devices per 200 ms commit
/// cost ~600 page writes, over 4 KB written per reading. Instead, each commit **appends** one
/// `journal_segment` row (``JournalSegment``: its raw readings and ingest rows, the last ingest
/// row of a device winning) and *no rollup cells* when every cell the batch changes is exactly
/// what replaying its readings onto the stored cells yields (checked at commit, see
/// ``Pending/defer(_:storedCell:)``); such readings carry `rollupDots` = the number of metrics.
///
/// Every ``EdgeStore/Configuration/journalFoldInterval`` (and when the store opens or closes, or
/// retention runs) ``fold(_:path:ingest:sliceReadings:)`` moves the journal into the clustered tables in one
/// transaction: rollups replayed from the deferred readings and upserted, the raw readings stored
/// as one chunk per device (``RawChunkStore``), the newest ingest row per device upserted, the
/// segments deleted.
///
/// Crash safety: a batch and its segment commit in one transaction, and a fold is one
/// transaction, so after `kill -9` at any moment the stored rollups plus the deferred readings
/// still in the journal are exactly the rollups the owner had committed: readers replay them
/// (``StateReader/rollups()``), nothing is lost, and a reading is replayed only while it is in
/// the journal, so nothing counts twice. A batch whose rollups cannot be replayed from its raw
/// readings (no raw reading — `keep_raw_telemetry: false` —, a remote delta, a cell that does not
/// match) folds the journal first and upserts its cells directly: exact, at a page per cell.
enum TelemetryJournal {
    /// About how many readings a fold holds in memory at once (a slice of the devices; see
    /// ``fold(_:path:ingest:sliceReadings:)``): ~1 MB of decoded readings.
    static let foldSliceReadings = 8_192

    /// Schema v3: a row per raw reading (`raw_log`) and per ingest row (`ingest_log`), replaced
    /// by segments in v7 (``createSegments(_:)``).
    static func createTables(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE raw_log (
                    id INTEGER PRIMARY KEY,
                    device TEXT NOT NULL,
                    epoch INTEGER NOT NULL,
                    seq INTEGER NOT NULL,
                    metrics BLOB NOT NULL,
                    device_time_ms INTEGER,
                    logical INTEGER NOT NULL,
                    writer INTEGER NOT NULL,
                    dot_counter INTEGER NOT NULL,
                    rollup_dots INTEGER NOT NULL
                ) STRICT;

                CREATE TABLE ingest_log (
                    id INTEGER PRIMARY KEY,
                    device TEXT NOT NULL,
                    epoch INTEGER NOT NULL,
                    last_seq INTEGER,
                    received INTEGER NOT NULL,
                    duplicates INTEGER NOT NULL,
                    gaps INTEGER NOT NULL,
                    missing_ranges BLOB NOT NULL
                ) STRICT;
                """)
    }

    /// What a store remembers between commits to decide, without reading the journal, whether a
    /// batch's rollup cells can be deferred: the cells as of the last commit, for the keys
    /// deferred since the last fold. They equal stored cells plus replayed journal rows, however
    /// many connections fold meanwhile, because only the owner writes its cells.
    struct Pending: Sendable {
        var cells: [TelemetryRollups.Key: TelemetryRollups.Summary] = [:]
        /// Rows appended to the logs since the last fold (bounds the replay on start-up).
        var journalRows = 0
        var lastFold = ContinuousClock.now
        /// Set after a failed commit (its cells may be in `cells`): the next commit folds the
        /// journal before anything else, so its deferral checks read the stored cells.
        var mustFold = false
        /// The `device_name` ids looked up or given out by the commits since this state was made
        /// (a lookup per device and commit cost more than writing its reading).
        var deviceIDs: [String: Int64] = [:]

        /// A state whose next commit folds first.
        static var foldFirst: Pending {
            var pending = Pending()
            pending.mustFold = true
            return pending
        }

        /// Returns this state, leaving an empty one: the returned `cells` are then referenced once,
        /// so updating them changes them in place.
        mutating func take() -> Pending {
            let taken = self
            self = Pending()
            return taken
        }

        /// Decides whether every rollup cell of `deltas` is what replaying their raw readings, in
        /// delta order, yields; returns, per delta index, the rollup dots to record with its
        /// reading in the journal (and updates `cells`), or `nil` when the batch must write its
        /// cells directly.
        mutating func `defer`(
            _ deltas: [SiteDelta], storedCell: (TelemetryRollups.Key) throws -> TelemetryRollups.Summary?
        ) rethrows -> [Int: Int]? {
            var scratch = TelemetryRollups()
            var loaded = Set<TelemetryRollups.Key>()
            var dots: [Int: Int] = [:]
            for (deltaIndex, delta) in deltas.enumerated() {
                guard let rollups = delta.rollups else { continue }
                guard let raw = delta.raw, raw.readings.count == 1, let (key, reading) = raw.readings.first,
                    UInt64(reading.values.count) < reading.dotCounter
                else { return nil }
                let recorded = try TelemetryJournal.record(
                    reading, of: key.device, into: &scratch, loaded: &loaded, base: { try cells[$0] ?? storedCell($0) })
                guard Set(rollups.cells.keys) == recorded,
                    rollups.cells.allSatisfy({ scratch.cells[$0.key] == $0.value })
                else { return nil }
                dots[deltaIndex] = reading.values.count
            }
            for key in loaded { cells[key] = scratch.cells[key] }
            return dots
        }
    }

    /// A store's ``Pending``, shared by its (serialised) commits.
    final class Shared: Sendable {
        private let state = Mutex(Pending())

        func withLock<T>(_ body: (inout Pending) -> T) -> T { state.withLock { body(&$0) } }
    }

    /// When a commit folds the journal.
    struct Policy: Sendable {
        /// Fold once this long has passed since the last fold.
        var interval: Duration
        /// Fold once the logs hold this many rows, whatever the interval: bounds the replay a
        /// reader (and start-up) does.
        var maxRows: Int

        func foldIsDue(_ pending: Pending) -> Bool {
            pending.journalRows >= maxRows || ContinuousClock.now - pending.lastFold >= interval
        }
    }

    /// Schema v7: one row per commit. `readings`, `deferred` and `ingest_rows` count the segment's
    /// readings, those with deferred rollups and its ingest rows (for tests and operators: the
    /// content needs decoding otherwise).
    /// The rows of the v3 logs, if any, become one segment, in their order.
    static func createSegments(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE journal_segment (
                    id INTEGER PRIMARY KEY,
                    readings INTEGER NOT NULL,
                    deferred INTEGER NOT NULL,
                    ingest_rows INTEGER NOT NULL,
                    content BLOB NOT NULL
                ) STRICT;
                """)
        let reader = StateReader(db: db, path: "")
        var raw: [(key: RawTelemetry.Key, reading: RawTelemetry.Reading, rollupDots: Int)] = []
        try reader.forEachRow(
            "raw_log", sql: StateReader.readingColumns + ", rollup_dots FROM raw_log ORDER BY id"
        ) { row in
            let (key, reading) = try StateReader.reading(row)
            raw.append((key, reading, Int(try row.decode(Int64.self, atIndex: 8))))
        }
        var ingest: [IngestRow] = []
        try reader.forEachIngestRow("ingest_log", sql: "SELECT \(StateReader.ingestColumns) FROM ingest_log ORDER BY id") { ingest.append($0) }
        var deviceIDs: [String: Int64] = [:]
        _ = try append(raw: raw, ingest: ingest, deviceIDs: &deviceIDs, db: db)
        try db.execute(sql: "DROP TABLE raw_log; DROP TABLE ingest_log")
    }

    // MARK: Writing

    /// Appends a segment of raw readings, in order, each with the rollup dots it replays (0:
    /// none), and ingest rows; returns the segment's size in bytes (0: nothing to append). Two
    /// readings may share a key (two ingestions of one reading): readers and the fold keep the
    /// earlier stamp, as RawTelemetry does, and the replay needs every ingestion whose rollups
    /// were deferred. `deviceIDs` holds the device ids known so far and gains those looked up or
    /// given out.
    static func append(
        raw: [(key: RawTelemetry.Key, reading: RawTelemetry.Reading, rollupDots: Int)], ingest: [IngestRow],
        deviceIDs ids: inout [String: Int64], db: Database
    ) throws -> Int {
        guard !raw.isEmpty || !ingest.isEmpty else { return 0 }
        try RawChunkStore.resolveDeviceIDs(raw.lazy.map(\.key.device), into: &ids, db: db)
        try RawChunkStore.resolveDeviceIDs(ingest.lazy.map(\.device), into: &ids, db: db)
        let segment = JournalSegment(
            readings: raw.map { JournalSegment.Reading(device: ids[$0.key.device]!, epoch: $0.key.epoch, seq: $0.key.seq, reading: $0.reading, rollupDots: $0.rollupDots) },
            ingest: ingest.map { JournalSegment.Ingest(device: ids[$0.device]!, row: $0) })
        let content = segment.encode()
        let statement = DirectStatement(try db.cachedStatement(sql: "INSERT INTO journal_segment (readings, deferred, ingest_rows, content) VALUES (?, ?, ?, ?)"))
        try statement.execute { row in
            row.int(Int64(segment.readings.count))
            row.int(Int64(segment.deferredReadings))
            row.int(Int64(segment.ingest.count))
            content.withUnsafeBytes { row.blob($0) }
        }
        return content.count
    }

    // MARK: Reading

    /// Calls `body` with every segment, oldest first, and the name of each device id.
    static func forEachSegment(
        _ db: Database, path: String, keeping: ((_ device: Int64, _ rollupDots: Int) -> Bool)? = nil,
        _ body: (JournalSegment, _ deviceName: (Int64) -> String?) throws -> Void
    ) throws {
        var names: [Int64: String]?
        let rows = try Row.fetchCursor(db.cachedStatement(sql: "SELECT id, content FROM journal_segment ORDER BY id"))
        while let row = try rows.next() {
            if names == nil { names = Dictionary(uniqueKeysWithValues: try RawChunkStore.deviceIDs(db).map { ($1, $0) }) }
            let lookup: (Int64) -> String? = { names?[$0] }
            let segment = try row.withUnsafeData(atIndex: 1) { data in
                data.flatMap { $0.withUnsafeBytes { JournalSegment.decode($0, deviceName: lookup, keeping: keeping) } }
            }
            guard let segment else {
                throw StoreError.unreadableRow(path: path, table: "journal_segment", detail: "row \(row[0] as Int64) does not decode")
            }
            try body(segment, lookup)
        }
    }

    /// Calls `body` with every journal reading, oldest first, and its rollup dots.
    static func forEachReading(
        _ db: Database, path: String, _ body: (RawTelemetry.Key, RawTelemetry.Reading, Int) throws -> Void
    ) throws {
        try forEachSegment(db, path: path) { segment, deviceName in
            for item in segment.readings {
                try body(try key(of: item, deviceName: deviceName, path: path), item.reading, item.rollupDots)
            }
        }
    }

    /// The key of a segment's reading, its device named.
    private static func key(
        of item: JournalSegment.Reading, deviceName: (Int64) -> String?, path: String
    ) throws -> RawTelemetry.Key {
        guard let device = deviceName(item.device) else {
            throw StoreError.unreadableRow(path: path, table: "journal_segment", detail: "device id \(item.device) has no name")
        }
        return RawTelemetry.Key(device: device, epoch: item.epoch, seq: item.seq)
    }

    /// The newest journal ingest row of each device.
    static func latestIngest(_ db: Database, path: String) throws -> [String: IngestRow] {
        var latest: [String: IngestRow] = [:]
        try forEachSegment(db, path: path) { segment, _ in
            for item in segment.ingest { latest[item.row.device] = item.row }
        }
        return latest
    }

    // MARK: Folding

    /// Moves the journal into the clustered tables (inside the caller's transaction); returns
    /// how many raw readings it moved. `ingest: false` keeps the ingest rows in the journal (as
    /// one segment of each device's newest): they do not depend on the rollups, so a batch that
    /// must write its cells directly need not write `ingest_state` too.
    @discardableResult
    static func fold(
        _ db: Database, path: String, ingest moveIngest: Bool = true, sliceReadings: Int = foldSliceReadings
    ) throws -> Int {
        let moved = try Int.fetchOne(db.cachedStatement(sql: "SELECT coalesce(sum(readings), 0) FROM journal_segment")) ?? 0
        var ingest: [String: IngestRow] = [:]
        var replayed = TelemetryRollups()
        var loaded = Set<TelemetryRollups.Key>()
        let reader = StateReader(db: db, path: path)
        // The readings are moved a slice of device ids at a time, each slice read from the
        // whole journal, so a fold holds about `sliceReadings` readings in memory (when the
        // devices report alike) however many the journal holds. The first pass also replays the
        // deferred rollups and keeps the newest ingest rows.
        let slices = max(1, (moved + sliceReadings - 1) / sliceReadings)
        let highestDevice = try Int64.fetchOne(db.cachedStatement(sql: "SELECT coalesce(max(id), 0) FROM device_name")) ?? 0
        var sliceStart = Int64.min
        for slice in 1...slices {
            let sliceEnd = slice == slices ? Int64.max : highestDevice * Int64(slice) / Int64(slices)
            let inSlice = { (device: Int64) in device > sliceStart && device <= sliceEnd }
            let first = slice == 1
            // Grouped by device id as decoded: one copy of the slice's readings, no names.
            var byDevice: [Int64: [RawChunk.Entry]] = [:]
            try forEachSegment(db, path: path, keeping: { device, rollupDots in inSlice(device) || (first && rollupDots > 0) }) {
                segment, deviceName in
                for item in segment.readings {
                    if inSlice(item.device) {
                        byDevice[item.device, default: []].append(RawChunk.Entry(epoch: item.epoch, seq: item.seq, reading: item.reading))
                    }
                    guard first, item.rollupDots > 0 else { continue }
                    try replay(
                        item.reading, of: try key(of: item, deviceName: deviceName, path: path), rollupDots: item.rollupDots,
                        into: &replayed, loaded: &loaded, path: path) { try reader.rollupCell($0) }
                }
                if first { for item in segment.ingest { ingest[item.row.device] = item.row } }
            }
            if first { try CommitTransaction(db: db, path: path).upsertRollups(replayed) }
            try RawChunkStore.append(byDevice: byDevice, db: db, path: path)
            sliceStart = sliceEnd
        }
        if !moveIngest {
            try db.execute(sql: "DELETE FROM journal_segment")
            var deviceIDs: [String: Int64] = [:]
            _ = try append(raw: [], ingest: ingest.values.sorted { $0.device < $1.device }, deviceIDs: &deviceIDs, db: db)
            return moved
        }
        if !ingest.isEmpty {
            let statement = DirectStatement(try db.cachedStatement(
                sql: """
                    INSERT INTO ingest_state (device, epoch, last_seq, received, duplicates, gaps, missing_ranges)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (device) DO UPDATE SET
                        epoch = excluded.epoch, last_seq = excluded.last_seq, received = excluded.received,
                        duplicates = excluded.duplicates, gaps = excluded.gaps, missing_ranges = excluded.missing_ranges
                    """))
            for row in ingest.values.sorted(by: { $0.device < $1.device }) {
                try statement.execute { binder in
                    binder.text(row.device)
                    binder.int(StoredInteger.bits(row.epoch))
                    binder.int(row.lastSeq.map(StoredInteger.bits))
                    binder.int(StoredInteger.bits(row.received))
                    binder.int(StoredInteger.bits(row.duplicates))
                    binder.int(StoredInteger.bits(row.gaps))
                    row.missingRanges.withUnsafeBytes { binder.blob($0) }
                }
            }
        }
        try db.execute(sql: "DELETE FROM journal_segment")
        return moved
    }

    /// Replays the journal's deferred readings, oldest first, onto `rollups` exactly as
    /// `SiteState.recordTelemetry` recorded them; `base` supplies a cell not yet in `rollups`.
    static func replay(
        into rollups: inout TelemetryRollups, db: Database, path: String,
        base: (TelemetryRollups.Key) throws -> TelemetryRollups.Summary?
    ) throws {
        var loaded = Set<TelemetryRollups.Key>()
        try forEachReading(db, path: path) { key, reading, rollupDots in
            guard rollupDots > 0 else { return }
            try replay(reading, of: key, rollupDots: rollupDots, into: &rollups, loaded: &loaded, path: path, base: base)
        }
    }

    /// Replays one deferred reading (metric `i` of `n` took dot `dot - n + i`).
    private static func replay(
        _ reading: RawTelemetry.Reading, of key: RawTelemetry.Key, rollupDots: Int, into rollups: inout TelemetryRollups,
        loaded: inout Set<TelemetryRollups.Key>, path: String, base: (TelemetryRollups.Key) throws -> TelemetryRollups.Summary?
    ) throws {
        let count = UInt64(rollupDots)
        guard count == UInt64(reading.values.count), count < reading.dotCounter else {
            throw StoreError.unreadableRow(
                path: path, table: "journal_segment",
                detail: "reading \(key.device)/\(key.seq) has \(rollupDots) rollup dots for \(reading.values.count) metrics")
        }
        try record(reading, of: key.device, into: &rollups, loaded: &loaded, base: base)
    }

    /// Records `reading`'s metrics onto `rollups` exactly as `SiteState.recordTelemetry` did:
    /// metric `i` of `n` took dot `dotCounter - n + i` (callers check `n < dotCounter`). A cell
    /// met for the first time (not yet in `loaded`) that `rollups` lacks starts from `base`.
    /// Returns the keys of the cells recorded. Shared by the replay and the deferral check, so
    /// both reconstruct the dots the same way.
    @discardableResult
    static func record(
        _ reading: RawTelemetry.Reading, of device: String, into rollups: inout TelemetryRollups,
        loaded: inout Set<TelemetryRollups.Key>, base: (TelemetryRollups.Key) throws -> TelemetryRollups.Summary?
    ) rethrows -> Set<TelemetryRollups.Key> {
        let count = UInt64(reading.values.count)
        let windowStart = TelemetryRollups.windowStart(of: reading.stamp)
        var recorded = Set<TelemetryRollups.Key>()
        for (index, metric) in reading.values.enumerated() {
            let cellKey = TelemetryRollups.Key(device: device, metric: metric.name, windowStart: windowStart, writer: reading.stamp.node)
            if loaded.insert(cellKey).inserted, rollups.cells[cellKey] == nil, let summary = try base(cellKey) {
                rollups.insert(summary, for: cellKey)
            }
            _ = rollups.record(
                device: device, metric: metric.name, value: metric.value, stamp: reading.stamp,
                dot: Dot(node: reading.stamp.node, counter: reading.dotCounter - count + UInt64(index)))
            recorded.insert(cellKey)
        }
        return recorded
    }
}
