import FoglineCore
import GRDB
import Synchronization

/// The telemetry journal: how a commit writes a few pages however many devices it carries.
///
/// Why: `raw_telemetry`, `rollup` and `ingest_state` are clustered by device, so a commit that
/// upserts into them rewrites (in the write-ahead log, and later in the database file) about one
/// page per device it carries in each table: 200 devices per 200 ms commit cost ~600 page writes,
/// over 4 KB written per reading. Instead, each commit **appends** in arrival order:
///
/// - raw readings to `raw_log` (a rowid table: consecutive rows share pages);
/// - ingest rows to `ingest_log` (the last row of a device wins);
/// - and *no rollup cells* when every cell the batch changes is exactly what replaying its
///   readings' `raw_log` rows onto the stored cells yields (checked at commit, see
///   ``Pending/defer(_:storedCell:)``); such rows carry `rollup_dots` = the number of metrics.
///
/// Every ``EdgeStore/Configuration/journalFoldInterval`` (and when the store opens or closes, or
/// retention runs) ``fold(_:)`` moves the journal into the clustered tables in one transaction:
/// rollups replayed from the deferred rows and upserted, the raw rows stored as one chunk per
/// device (``RawChunkStore``), the newest ingest row per device upserted, both logs emptied.
///
/// Crash safety: a batch and its journal rows commit in one transaction, and a fold is one
/// transaction, so after `kill -9` at any moment the stored rollups plus the deferred rows still
/// in `raw_log` are exactly the rollups the owner had committed: readers replay the deferred rows
/// (``StateReader/rollups()``), nothing is lost, and a row is replayed only while it is in the
/// log, so nothing counts twice. A batch whose rollups cannot be replayed from its raw rows (no
/// raw reading — `keep_raw_telemetry: false` —, a remote delta, a cell that does not match) folds
/// the journal first and upserts its cells directly, as every commit did before: exact, at the
/// old cost.
enum TelemetryJournal {
    /// Schema: the two logs. Raw rows keep the columns of `raw_telemetry`, plus how many rollup
    /// dots precede the reading's own dot (0: its rollups were written directly).
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

        /// Decides whether every rollup cell of `deltas` is what replaying their raw readings, in
        /// delta order, yields; returns, per delta index, the rollup dots to record with its
        /// reading in `raw_log` (and updates `cells`), or `nil` when the batch must write its
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

    // MARK: Writing

    /// Appends raw readings to `raw_log`, in order, each with the rollup dots it replays (0: none);
    /// returns the metric blob bytes written. Two rows may share a key (two ingestions of one
    /// reading): readers and the fold keep the earlier stamp, as RawTelemetry does, and the replay
    /// needs every ingestion whose rollups were deferred.
    static func appendRaw(
        _ rows: some Sequence<(key: RawTelemetry.Key, reading: RawTelemetry.Reading, rollupDots: Int)>, db: Database
    ) throws -> Int {
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO raw_log (device, epoch, seq, metrics, device_time_ms, logical, writer, dot_counter, rollup_dots)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        var bytes = 0
        let direct = DirectStatement(statement)
        for (key, reading, rollupDots) in rows {
            let metrics = MetricsBlob.encode(reading.values)
            bytes += metrics.count
            try direct.execute { row in
                row.text(key.device)
                row.int(StoredInteger.sortable(key.epoch))
                row.int(StoredInteger.bits(key.seq))
                metrics.withUnsafeBytes { row.blob($0) }
                row.int(reading.deviceTime)
                row.int(StoredInteger.sortable(reading.stamp.logical))
                row.int(StoredInteger.sortable(reading.stamp.node.rawValue))
                row.int(StoredInteger.bits(reading.dotCounter))
                row.int(Int64(rollupDots))
            }
        }
        return bytes
    }

    /// Appends ingest rows to `ingest_log`.
    static func appendIngest(_ rows: [IngestRow], db: Database) throws {
        guard !rows.isEmpty else { return }
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO ingest_log (device, epoch, last_seq, received, duplicates, gaps, missing_ranges)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
        let direct = DirectStatement(statement)
        for row in rows {
            try direct.execute { binder in
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

    // MARK: Folding

    /// Moves the journal into the clustered tables (inside the caller's transaction); returns
    /// how many raw rows it moved. `ingest: false` leaves `ingest_log` alone (its rows do not
    /// depend on the rollups, so a batch that must write its cells directly need not move them).
    @discardableResult
    static func fold(_ db: Database, path: String, ingest: Bool = true) throws -> Int {
        let reader = StateReader(db: db, path: path)
        var replayed = TelemetryRollups()
        try replay(into: &replayed, reader: reader) { key in try reader.rollupCell(key) }
        try CommitTransaction(db: db, path: path).upsertRollups(replayed)
        var logged: [(RawTelemetry.Key, RawTelemetry.Reading)] = []
        try reader.forEachReading("raw_log", sql: StateReader.readingColumns + " FROM raw_log", arguments: []) {
            logged.append(($0, $1))
        }
        try RawChunkStore.append(logged, db: db)
        let moved = logged.count
        try db.execute(sql: "DELETE FROM raw_log")
        guard ingest else { return moved }
        try db.execute(
            sql: """
                INSERT INTO ingest_state (device, epoch, last_seq, received, duplicates, gaps, missing_ranges)
                SELECT device, epoch, last_seq, received, duplicates, gaps, missing_ranges FROM ingest_log
                WHERE id IN (SELECT MAX(id) FROM ingest_log GROUP BY device) ORDER BY device
                ON CONFLICT (device) DO UPDATE SET
                    epoch = excluded.epoch, last_seq = excluded.last_seq, received = excluded.received,
                    duplicates = excluded.duplicates, gaps = excluded.gaps, missing_ranges = excluded.missing_ranges
                """)
        try db.execute(sql: "DELETE FROM ingest_log")
        return moved
    }

    /// Replays the deferred rows of `raw_log`, oldest first, onto `rollups` exactly as
    /// `SiteState.recordTelemetry` recorded them (metric `i` of `n` took dot `dot - n + i`);
    /// `base` supplies a cell not yet in `rollups`.
    static func replay(
        into rollups: inout TelemetryRollups, reader: StateReader,
        base: (TelemetryRollups.Key) throws -> TelemetryRollups.Summary?
    ) throws {
        var loaded = Set<TelemetryRollups.Key>()
        try reader.forEachLoggedReading(
            sql: StateReader.readingColumns + ", rollup_dots FROM raw_log WHERE rollup_dots > 0 ORDER BY id"
        ) { key, reading, rollupDots in
            let count = UInt64(rollupDots)
            guard count == UInt64(reading.values.count), count < reading.dotCounter else {
                throw StateReader.Unreadable("raw_log row \(key.device)/\(key.seq) has \(rollupDots) rollup dots for \(reading.values.count) metrics")
            }
            try record(reading, of: key.device, into: &rollups, loaded: &loaded, base: base)
        }
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
