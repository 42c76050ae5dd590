import Foundation
public import FoglineCore
import GRDB

/// An edge node's SQLite database: the replicated site state, the node's ingest bookkeeping,
/// its HLC bound, the uplink outbox and actuator commands.
///
/// One connection (`DatabaseQueue`) in write-ahead-log mode with `synchronous=NORMAL`:
///
/// - **WAL** lets readers (the admin API, a second process such as a backup) read while the
///   writer commits, and appends each commit to one log file instead of first copying every page
///   it changes into a rollback journal and then overwriting it in place: fewer, sequential
///   writes, which is what an SD card wants.
/// - **synchronous=NORMAL** writes each commit into the log but fsyncs only at checkpoints.
///   A commit that returned survives the *process* dying at any point (a crash, `kill -9`, an
///   OOM kill): the log is in the OS page cache and SQLite recovers it on the next open. That is
///   the failure this store is tested against. A *power cut* can lose the last commits (never
///   corrupt the file); the state they held comes back from peers and the cloud by anti-entropy
///   and the devices' replay. A batch that must survive power loss sets
///   ``StoreBatch/syncToDisk``; ``Configuration/synchronous`` `.full` makes every commit do so.
/// - **foreign keys** are on (SQLite's default is off), so any future schema that declares them
///   is enforced.
/// - **checkpoints** (copying the log back into the database file, and the only fsyncs under
///   `NORMAL`) run when the log reaches ``Configuration/checkpointPages`` (default 32,768 pages,
///   32 MiB with the 1 KiB pages of a database created by this version, 128 MiB with the 4 KiB
///   pages of an older one) instead of SQLite's 1,000: a page rewritten by many commits (the
///   journal's pages, reused after every fold; a device's newest chunk; a rollup cell) reaches
///   the database file once per checkpoint, so fewer checkpoints mean fewer flash writes and
///   fsyncs (with 30 s folds, `scripts/bench-ingest` measured 278 B written per reading at
///   8,192 pages and 255 at 32,768). The log file is truncated back to that size after a
///   checkpoint (`journal_size_limit`).
/// - **the telemetry journal**: commits append raw readings and ingest rows in arrival order and
///   defer rollup cells; every ``Configuration/journalFoldInterval`` one commit folds them into
///   the device-ordered tables (see `TelemetryJournal`): a few pages per commit instead of a page
///   per device, and still exact after `kill -9` at any moment.
///
/// All methods are thread-safe: the queue serialises them. The synchronous ones block the
/// calling thread for the duration of the SQLite work; from async code prefer the `async`
/// overload of `commit(_:)` (or ``BatchingWriter``), which waits without blocking a thread.
public final class EdgeStore: Sendable {
    public struct Configuration: Sendable {
        /// How long a write waits for a lock held by another connection before failing.
        public var busyTimeout: Duration
        /// When commits reach the storage device; see the type's documentation.
        public var synchronous: Synchronous
        /// Checkpoint the write-ahead log when it holds this many pages (1 KiB each in a new
        /// database, 4 KiB in one created before 1 KiB pages were chosen).
        public var checkpointPages: Int

        public enum Synchronous: String, Sendable {
            /// Durable across process crashes; fsync at checkpoints only (the default).
            case normal = "NORMAL"
            /// Durable across power loss; one fsync per commit.
            case full = "FULL"
        }

        /// How often a commit folds the telemetry journal (raw readings, rollup cells, ingest
        /// rows appended in arrival order) into the device-ordered tables. Longer: fewer page
        /// rewrites per reading, more journal rows for readers and start-up to replay. Not a
        /// durability setting: every commit is complete on its own.
        public var journalFoldInterval: Duration
        /// Fold the journal once it holds this many rows, whatever the interval.
        public var journalMaxRows: Int
        /// SQLite's page cache for the connection, in KiB. A board's OS caches the file too, so
        /// a larger cache mostly saves copying pages from it; SQLite's default is 2,000 KiB.
        public var cacheKiB: Int

        public init(
            busyTimeout: Duration = .seconds(5), synchronous: Synchronous = .normal, checkpointPages: Int = 32_768,
            journalFoldInterval: Duration = .seconds(120), journalMaxRows: Int = 200_000, cacheKiB: Int = 512
        ) {
            self.busyTimeout = busyTimeout
            self.synchronous = synchronous
            self.checkpointPages = max(1, checkpointPages)
            self.journalFoldInterval = journalFoldInterval
            self.journalMaxRows = max(1, journalMaxRows)
            self.cacheKiB = max(1, cacheKiB)
        }
    }

    /// The database file.
    public let path: String
    public let configuration: Configuration
    private let queue: DatabaseQueue
    /// What this connection knows of the telemetry journal since its last fold (see
    /// `TelemetryJournal.Pending`); only read and replaced inside the queue's write closures.
    private let journal = TelemetryJournal.Shared()

    /// Opens the database at `path`, creating it if needed, and brings its schema up to date.
    /// The directory must exist.
    ///
    /// - Throws: ``StoreError`` — e.g. ``StoreError/Kind/cannotOpen`` for a missing or unwritable
    ///   directory, ``StoreError/Kind/newerSchema`` for a file written by a newer Fogline.
    public init(path: String, configuration: Configuration = Configuration()) throws {
        self.path = path
        self.configuration = configuration
        var options = GRDB.Configuration()
        options.label = "FoglineStore"
        options.journalMode = .wal
        options.foreignKeysEnabled = true
        options.busyMode = .timeout(TimeInterval(configuration.busyTimeout.components.seconds)
            + TimeInterval(configuration.busyTimeout.components.attoseconds) / 1e18)
        // Runs before the journal mode is set, so it takes effect on a new, empty file (an existing
        // database keeps its page size). Each commit writes every page it changed to the log in
        // full, and a telemetry commit changes a page per device it carries (that device's newest
        // raw rows and rollup cell): 1 KiB pages write a quarter of what 4 KiB pages do.
        options.prepareDatabase { db in try db.execute(sql: "PRAGMA page_size = 1024") }
        do {
            queue = try DatabaseQueue(path: path, configuration: options)
        } catch {
            throw Self.openError(error, path: path)
        }
        try prepare()
    }

    /// Checks the journal mode, sets `synchronous`, refuses newer schemas and migrates.
    private func prepare() throws {
        do {
            try queue.writeWithoutTransaction { db in
                let journalMode = try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "unknown"
                guard journalMode.lowercased() == "wal" else {
                    throw StoreError(
                        kind: .walUnavailable, path: path, operation: "open",
                        underlying: "SQLite kept journal_mode=\(journalMode)")
                }
                try db.execute(sql: "PRAGMA synchronous = \(configuration.synchronous.rawValue)")
                // Debian (and so Raspberry Pi OS) builds SQLite with SECURE_DELETE: every freed
                // page is overwritten with zeros, a write (and a checkpoint copy) per page of
                // each journal fold for nothing a board needs.
                try db.execute(sql: "PRAGMA secure_delete = OFF")
                try db.execute(sql: "PRAGMA wal_autocheckpoint = \(configuration.checkpointPages)")
                try db.execute(sql: "PRAGMA cache_size = -\(configuration.cacheKiB)")
                let pageSize = try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 4_096
                try db.execute(sql: "PRAGMA journal_size_limit = \(configuration.checkpointPages * pageSize)")
                let migrator = StoreSchema.migrator
                if try migrator.hasBeenSuperseded(db) {
                    let unknown = try migrator.appliedIdentifiers(db).subtracting(migrator.migrations)
                    throw StoreError(
                        kind: .newerSchema, path: path, operation: "open",
                        underlying: "unknown migrations: \(unknown.sorted().joined(separator: ", "))")
                }
            }
            try StoreSchema.migrator.migrate(queue)
            // Start from an empty journal, so this connection's deferral checks read the cells
            // that the last run (perhaps killed) committed from the rollup table.
            try foldJournal()
        } catch {
            throw StoreError.wrapping(error, path: path, operation: "open")
        }
    }

    /// Closes the connection (checkpointing the log into the database file). Further calls fail.
    /// Optional: the connection also closes when the store is released.
    public func close() throws {
        do {
            try foldJournal()
            try queue.close()
        } catch {
            throw StoreError.wrapping(error, path: path, operation: "close")
        }
    }

    /// Folds the telemetry journal into the device-ordered tables now, in one transaction,
    /// holding about `sliceReadings` readings in memory at once.
    func foldJournal(sliceReadings: Int = TelemetryJournal.foldSliceReadings) throws {
        try foldJournal(sliceReadings: sliceReadings) { _ in }
    }

    /// Folds the journal, then runs `body` in the same transaction: a reader of the folded
    /// tables only (``StateReader/rawTelemetry(in:)``, ``StateReader/rollups(in:)``) sees every
    /// committed row. (Folding in one transaction and reading in the next would miss the rows a
    /// commit between them leaves in the journal, while reading the context that covers them.)
    func foldJournal<T>(
        sliceReadings: Int = TelemetryJournal.foldSliceReadings, then body: (Database) throws -> T
    ) throws -> T {
        try queue.writeWithoutTransaction { db in
            var result: T?
            try db.inTransaction(.immediate) {
                try TelemetryJournal.fold(db, path: path, sliceReadings: sliceReadings)
                result = try body(db)
                return .commit
            }
            journal.withLock { $0 = TelemetryJournal.Pending() }
            return result!
        }
    }

    // MARK: Writing

    /// Writes `batch` in one transaction: all of it, or (on error) none of it.
    /// Committing the same batch again changes nothing (outbox appends only when they carry a
    /// ``OutboxMessage/deduplicationKey``). Blocks the calling thread.
    @discardableResult
    public func commit(_ batch: StoreBatch) throws -> CommitReport {
        try validate(batch)
        do {
            return try queue.writeWithoutTransaction { db in
                try Self.commit(batch, in: db, path: path, configuration: configuration, journal: journal)
            }
        } catch {
            throw StoreError.wrapping(error, path: path, operation: "commit a batch")
        }
    }

    /// Writes `batch` in one transaction without blocking the calling thread.
    @discardableResult
    public func commit(_ batch: StoreBatch) async throws -> CommitReport {
        try validate(batch)
        let path = path
        let configuration = configuration
        let journal = journal
        do {
            return try await queue.writeWithoutTransaction { db in
                try Self.commit(batch, in: db, path: path, configuration: configuration, journal: journal)
            }
        } catch {
            throw StoreError.wrapping(error, path: path, operation: "commit a batch")
        }
    }

    private func validate(_ batch: StoreBatch) throws {
        if let problem = batch.problem {
            throw StoreError(kind: .invalidBatch, path: path, operation: "commit a batch", underlying: problem)
        }
    }

    private static func commit(
        _ batch: StoreBatch, in db: Database, path: String, configuration: Configuration,
        journal: TelemetryJournal.Shared
    ) throws -> CommitReport {
        let raiseSync = batch.syncToDisk && configuration.synchronous != .full
        if raiseSync { try db.execute(sql: "PRAGMA synchronous = FULL") }
        defer { if raiseSync { try? db.execute(sql: "PRAGMA synchronous = \(configuration.synchronous.rawValue)") } }
        var report = CommitReport()
        // IMMEDIATE takes the write lock up front: a deferred transaction that reads first could
        // fail with SQLITE_BUSY_SNAPSHOT (not retried by the busy timeout) if another connection
        // wrote in between.
        // The queue serialises writers, so the state taken here is the latest. Taken, not
        // copied: a copy would share the cells' storage and duplicate every cell since the last
        // fold at the commit's first update.
        var pending = journal.withLock { $0.take() }
        let policy = TelemetryJournal.Policy(interval: configuration.journalFoldInterval, maxRows: configuration.journalMaxRows)
        do {
            try db.inTransaction(.immediate) {
                report = try CommitTransaction(db: db, path: path).write(batch, journal: &pending, policy: policy)
                return .commit
            }
        } catch {
            // Rolled back, but `pending` may hold the batch's cells: the next commit starts from
            // the stored tables (it folds the journal first).
            journal.withLock { $0 = .foldFirst }
            throw error
        }
        journal.withLock { $0 = pending }
        return report
    }

    // MARK: Reading

    /// The site state as stored: equal (`==`) to the state of the owner that committed its deltas.
    public func loadSiteState() throws -> SiteState {
        try read("load the site state") { db in try StateReader(db: db, path: path).siteState() }
    }

    /// The persisted HLC upper bound (ms), or `nil` if none was ever committed. Pass it to
    /// `HybridLogicalClock(node:configuration:persistedBound:wallMilliseconds:)` on start.
    public func loadHLCBound() throws -> UInt64? {
        try read("load the HLC bound") { db in
            try Int64.fetchOne(db.cachedStatement(sql: "SELECT bound_ms FROM hlc_bound WHERE id = 1"))
                .map(StoredInteger.fromBits)
        }
    }

    /// Every device's ingest bookkeeping, sorted by device.
    public func loadIngest() throws -> [IngestRow] {
        try read("load the ingest state") { db in
            var rows = try TelemetryJournal.latestIngest(db, path: path)
            try StateReader(db: db, path: path).forEachIngestRow("ingest_state", sql: "SELECT \(StateReader.ingestColumns) FROM ingest_state") { row in
                if rows[row.device] == nil { rows[row.device] = row }
            }
            return rows.values.sorted { $0.device < $1.device }
        }
    }

    /// The oldest `limit` outbox messages, oldest first (FIFO).
    public func outbox(limit: Int) throws -> [OutboxEntry] {
        try read("read the outbox") { db in
            var entries: [OutboxEntry] = []
            try StateReader(db: db, path: path).forEachRow(
                "outbox",
                sql: "SELECT id, topic, payload, qos, retain, created_ms, dedupe_key FROM outbox ORDER BY id LIMIT ?",
                arguments: [max(0, limit)]
            ) { row in
                let qosValue = try row.decode(Int64.self, atIndex: 3)
                guard let qos = UInt8(exactly: qosValue).flatMap(OutboxMessage.QoS.init(rawValue:)) else {
                    throw StateReader.Unreadable("qos \(qosValue) is not 0, 1 or 2")
                }
                let message = OutboxMessage(
                    topic: try row.decode(String.self, atIndex: 1),
                    payload: [UInt8](try row.decode(Data.self, atIndex: 2)), qos: qos,
                    retain: try row.decode(Bool.self, atIndex: 4),
                    createdMilliseconds: StoredInteger.fromBits(try row.decode(Int64.self, atIndex: 5)),
                    deduplicationKey: try row.decode(String?.self, atIndex: 6))
                entries.append(OutboxEntry(id: try row.decode(Int64.self, atIndex: 0), message: message))
            }
            return entries
        }
    }

    /// How many messages the outbox holds and their payload bytes: what bounds it on disk.
    public func outboxSize() throws -> (messages: Int, payloadBytes: Int) {
        try read("measure the outbox") { db in
            let row = try Row.fetchOne(db, sql: "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox")
            return (messages: try row?.decode(Int.self, atIndex: 0) ?? 0, payloadBytes: try row?.decode(Int.self, atIndex: 1) ?? 0)
        }
    }

    /// Commands with `status` (all commands when `nil`), oldest first.
    public func commands(status: CommandStatus? = nil) throws -> [CommandRecord] {
        try read("read commands") { db in
            let columns = "SELECT id, device, name, args_json, fence, status, attempts, created_ms, deadline_ms, detail FROM command"
            let sql = status == nil
                ? "\(columns) ORDER BY created_ms, id"
                : "\(columns) WHERE status = ? ORDER BY created_ms, id"
            var commands: [CommandRecord] = []
            try StateReader(db: db, path: path).forEachRow(
                "command", sql: sql, arguments: status.map { [$0.rawValue] } ?? []
            ) { row in
                let attempts = try row.decode(Int64.self, atIndex: 6)
                guard let attemptCount = UInt32(exactly: attempts) else {
                    throw StateReader.Unreadable("attempts \(attempts) is out of range")
                }
                commands.append(
                    CommandRecord(
                        id: try row.decode(String.self, atIndex: 0), device: try row.decode(String.self, atIndex: 1),
                        name: try row.decode(String.self, atIndex: 2), argumentsJSON: try row.decode(String.self, atIndex: 3),
                        fence: StoredInteger.fromBits(try row.decode(Int64.self, atIndex: 4)),
                        status: CommandStatus(rawValue: try row.decode(String.self, atIndex: 5)),
                        attempts: attemptCount,
                        createdMilliseconds: StoredInteger.fromBits(try row.decode(Int64.self, atIndex: 7)),
                        deadlineMilliseconds: StoredInteger.fromBits(try row.decode(Int64.self, atIndex: 8)),
                        detail: try row.decode(String?.self, atIndex: 9)))
            }
            return commands
        }
    }

    /// Up to `limit` raw readings of `device` after position `after` (epoch, seq) — from the
    /// first when `nil` — in (epoch, seq) order: for replaying a device's history or serving it.
    public func rawTelemetry(device: String, after: (epoch: UInt64, seq: UInt64)? = nil, limit: Int) throws -> [StoredReading] {
        try read("read raw telemetry") { db in
            // The device's readings after `after` in the chunks and the journal, joined as
            // RawTelemetry does (the earlier stamp wins), then the first `limit`.
            var found = RawTelemetry()
            let start = after.map { RawChunk.Position(epoch: $0.epoch, seq: $0.seq) }
            // Chunks are in position order: the first `limit` after `after` are all that can be kept.
            var fromChunks = 0
            try RawChunkStore.forEachChunk(ofDevice: device, after: start, db: db, path: path) { chunk in
                for entry in chunk.entries where start.map({ entry.position > $0 }) ?? true {
                    found.insert(entry.reading, for: RawTelemetry.Key(device: device, epoch: entry.epoch, seq: entry.seq))
                    fromChunks += 1
                }
                return fromChunks < limit
            }
            try TelemetryJournal.forEachReading(db, path: path) { key, reading, _ in
                if key.device == device, start.map({ RawChunk.Position(epoch: key.epoch, seq: key.seq) > $0 }) ?? true {
                    found.insert(reading, for: key)
                }
            }
            return found.readings.sorted { $0.key < $1.key }.prefix(max(0, limit)).map { StoredReading(key: $0.key, reading: $0.value) }
        }
    }

    /// SQLite's `PRAGMA integrity_check`: `"ok"`, or its list of problems, one per line.
    public func integrityCheck() throws -> String {
        try read("check integrity") { db in
            try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "\n")
        }
    }

    /// The SQLite settings of this store's connection, as SQLite reports them: for status pages
    /// and for checking that the durability settings documented above are in force.
    public func connectionSettings() throws -> ConnectionSettings {
        try read("read the connection settings") { db in
            // SQLite reports synchronous as a number: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA.
            let level = try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
            let names = ["OFF", "NORMAL", "FULL", "EXTRA"]
            return ConnectionSettings(
                journalMode: try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "",
                synchronous: names.indices.contains(level) ? names[level] : "\(level)",
                foreignKeys: try Bool.fetchOne(db, sql: "PRAGMA foreign_keys") ?? false,
                checkpointPages: try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint") ?? 0)
        }
    }

    /// See ``connectionSettings()``.
    public struct ConnectionSettings: Sendable, Equatable {
        /// `"wal"`.
        public var journalMode: String
        /// `"NORMAL"` or `"FULL"`.
        public var synchronous: String
        public var foreignKeys: Bool
        /// The write-ahead log's automatic checkpoint threshold, in pages.
        public var checkpointPages: Int

        public init(journalMode: String, synchronous: String, foreignKeys: Bool, checkpointPages: Int) {
            self.journalMode = journalMode
            self.synchronous = synchronous
            self.foreignKeys = foreignKeys
            self.checkpointPages = checkpointPages
        }
    }

    // MARK: Retention

    /// Keeps the newest `limit` raw readings (by epoch, then `seq`) of each device and deletes the rest, as
    /// `SiteState.pruneRawTelemetry(keepingPerDevice:)` does in memory; returns how many were
    /// deleted. Local only: the readings' dots stay in the causal context.
    @discardableResult
    public func pruneRawTelemetry(keepingPerDevice limit: Int) throws -> Int {
        try pruneRawTelemetry(keepingPerDevice: limit, notHeldBy: nil).deleted
    }

    /// Retention as ``pruneRawTelemetry(keepingPerDevice:)``, also counting per device the deleted
    /// readings whose dots `holder` (e.g. what the aggregator acknowledged) does not hold: raw
    /// rows that will never reach it. Their readings stay counted in the rollups.
    public func pruneRawTelemetry(
        keepingPerDevice limit: Int, notHeldBy holder: CausalContext?
    ) throws -> (deleted: Int, lost: [String: Int]) {
        precondition(limit >= 0, "a retention limit cannot be negative")
        do {
            return try queue.write { db in
                // Retention applies to the readings of the journal too.
                try TelemetryJournal.fold(db, path: path)
                journal.withLock { $0 = TelemetryJournal.Pending() }
                return try RawChunkStore.prune(keepingPerDevice: limit, notHeldBy: holder, db: db, path: path)
            }
        } catch {
            throw StoreError.wrapping(error, path: path, operation: "prune raw telemetry")
        }
    }

    // MARK: Private

    func read<T>(_ operation: String, _ body: (Database) throws -> T) throws -> T {
        do {
            return try queue.read(body)
        } catch {
            throw StoreError.wrapping(error, path: path, operation: operation)
        }
    }

    /// An open failure, with the likely cause spelled out.
    private static func openError(_ error: any Error, path: String) -> StoreError {
        let wrapped = StoreError.wrapping(error, path: path, operation: "open")
        guard wrapped.kind == .cannotOpen || wrapped.kind == .readOnly else { return wrapped }
        let directory = (path as NSString).deletingLastPathComponent
        let files = FileManager.default
        var isDirectory: ObjCBool = false
        let reason: String
        if !files.fileExists(atPath: directory.isEmpty ? "." : directory, isDirectory: &isDirectory) {
            reason = "the directory \(directory) does not exist"
        } else if !isDirectory.boolValue {
            reason = "\(directory) is not a directory"
        } else if files.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            reason = "it is a directory"
        } else if !files.isWritableFile(atPath: directory.isEmpty ? "." : directory)
            || (files.fileExists(atPath: path) && !files.isWritableFile(atPath: path))
        {
            reason = "permission denied"
        } else {
            reason = wrapped.underlying
        }
        return StoreError(kind: .cannotOpen, path: path, operation: "open", underlying: reason)
    }
}
