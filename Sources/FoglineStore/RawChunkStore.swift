import FoglineCore
import GRDB

/// The folded raw readings: ``RawChunk``s in `raw_chunk`, one row per device, writer and fold.
///
/// A chunk's rowid is its device's id (`device_name`) shifted left 32 bits plus a number that
/// grows per device, so a device's chunks are one rowid range (one seek) and the rows a fold
/// appends to a device go where its earlier ones are. The table is a rowid table, not `WITHOUT
/// ROWID`, because a chunk (~20 bytes per reading) fits on a table leaf page but not in an index
/// cell (a quarter page), which would put every chunk on an overflow page of its own.
///
/// Each position of a device is held once, by one chunk: of two ingestions of a reading (two
/// writers', or one writer's again after a restart) the earlier stamp stays, as in
/// `RawTelemetry.insert` (see ``append(_:db:)``), so the chunks hold exactly a `RawTelemetry`.
enum RawChunkStore {
    static func createTables(_ db: Database) throws {
        try db.execute(
            sql: """
                -- Device ids for raw_chunk rowids; never reused.
                CREATE TABLE device_name (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL UNIQUE
                ) STRICT;

                -- A RawChunk: rowid = device_name.id << 32 | chunk number. Epochs and the writer
                -- are order-preserving, seqs and dots bit patterns (StoredInteger); first/last are
                -- the chunk's lowest and highest (epoch, seq).
                CREATE TABLE raw_chunk (
                    id INTEGER PRIMARY KEY,
                    writer INTEGER NOT NULL,
                    entries INTEGER NOT NULL,
                    min_dot INTEGER NOT NULL,
                    max_dot INTEGER NOT NULL,
                    first_epoch INTEGER NOT NULL,
                    first_seq INTEGER NOT NULL,
                    last_epoch INTEGER NOT NULL,
                    last_seq INTEGER NOT NULL,
                    readings BLOB NOT NULL
                ) STRICT;

                -- Anti-entropy reads a writer's readings by dot (see entries(of:)).
                CREATE INDEX raw_chunk_by_dot ON raw_chunk (writer, min_dot, max_dot);
                """)
    }

    /// Moves the rows of the per-reading `raw_telemetry` table of earlier versions into chunks.
    static func migrateRowsPerReading(_ db: Database) throws {
        let reader = StateReader(db: db, path: "")
        var readings: [(RawTelemetry.Key, RawTelemetry.Reading)] = []
        try reader.forEachReading("raw_telemetry", sql: StateReader.readingColumns + " FROM raw_telemetry", arguments: []) {
            readings.append(($0, $1))
        }
        try append(readings, db: db)
        try db.execute(sql: "DROP TABLE raw_telemetry")
    }

    // MARK: Writing

    /// Stores `readings` (in any order) as new chunks, keeping each device's position once: of
    /// two readings at one position, here or already stored, the one with the earlier stamp stays
    /// (a stored chunk that loses one is rewritten without it).
    static func append(_ readings: some Sequence<(RawTelemetry.Key, RawTelemetry.Reading)>, db: Database) throws {
        var grouped: [String: [RawChunk.Position: RawChunk.Entry]] = [:]
        for (key, reading) in readings {
            let entry = RawChunk.Entry(epoch: key.epoch, seq: key.seq, reading: reading)
            if let held = grouped[key.device]?[entry.position], held.reading.stamp <= reading.stamp { continue }
            grouped[key.device, default: [:]][entry.position] = entry
        }
        guard !grouped.isEmpty else { return }
        let ids = try deviceIDs(for: grouped.keys, db: db)
        let lastNumber = try db.cachedStatement(sql: "SELECT max(id) FROM raw_chunk WHERE id BETWEEN ? AND ?")
        let insert = DirectStatement(try db.cachedStatement(sql: "INSERT INTO raw_chunk \(columns) VALUES \(placeholders)"))
        // In rowid order: each insert lands next to the previous one's page.
        for (device, incoming) in grouped.sorted(by: { ids[$0.key]! < ids[$1.key]! }) {
            let id = ids[device]!
            let kept = try resolve(incoming, against: id, db: db)
            let range = rowids(ofDevice: id)
            var next = (try Int64.fetchOne(lastNumber, arguments: [range.lowerBound, range.upperBound])).map { $0 + 1 } ?? range.lowerBound
            let writers = Dictionary(grouping: kept, by: \.reading.stamp.node)
            for (writer, entries) in writers.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                let sorted = RawChunk.resolved(entries)
                for start in stride(from: 0, to: sorted.count, by: RawChunk.maxEntries) {
                    guard next <= range.upperBound else { throw StateReader.Unreadable("device \(device) has 2^32 raw chunks") }
                    let chunk = RawChunk(writer: writer, entries: Array(sorted[start..<min(start + RawChunk.maxEntries, sorted.count)]))
                    try write(chunk, id: next, with: insert)
                    next += 1
                }
            }
        }
    }

    /// The entries of `incoming` that no stored reading of device `id` beats; stored readings
    /// they beat are removed from their chunks. Only chunks whose (first, last) range overlaps the
    /// incoming positions are read: usually none, new readings come after the stored ones.
    private static func resolve(
        _ incoming: [RawChunk.Position: RawChunk.Entry], against id: Int64, db: Database
    ) throws -> [RawChunk.Entry] {
        var incoming = incoming
        guard let lowest = incoming.keys.min(), let highest = incoming.keys.max() else { return [] }
        let range = rowids(ofDevice: id)
        var overlapping: [(Int64, RawChunk)] = []
        try forEachChunk(
            sql: """
                SELECT id, writer, readings FROM raw_chunk WHERE id BETWEEN ? AND ?
                AND (last_epoch, last_seq) >= (?, ?) AND (first_epoch, first_seq) <= (?, ?)
                """,
            arguments: [
                range.lowerBound, range.upperBound, StoredInteger.sortable(lowest.epoch), StoredInteger.bits(lowest.seq),
                StoredInteger.sortable(highest.epoch), StoredInteger.bits(highest.seq),
            ],
            db: db, path: "") { overlapping.append(($0, $1)) }
        for (chunkID, chunk) in overlapping {
            var stays: [RawChunk.Entry] = []
            for stored in chunk.entries {
                guard let new = incoming[stored.position] else { stays.append(stored); continue }
                if stored.reading.stamp <= new.reading.stamp {
                    incoming[stored.position] = nil
                    stays.append(stored)
                }
            }
            if stays.count < chunk.entries.count { try replace(chunkID, with: stays, of: chunk.writer, db: db) }
        }
        return Array(incoming.values)
    }

    /// Rewrites chunk `id` with `entries`, or deletes it when there are none.
    private static func replace(_ id: Int64, with entries: [RawChunk.Entry], of writer: NodeID, db: Database) throws {
        if entries.isEmpty {
            try db.cachedStatement(sql: "DELETE FROM raw_chunk WHERE id = ?").execute(arguments: [id])
        } else {
            let statement = DirectStatement(try db.cachedStatement(sql: "REPLACE INTO raw_chunk \(columns) VALUES \(placeholders)"))
            try write(RawChunk(writer: writer, entries: entries), id: id, with: statement)
        }
    }

    private static let columns = "(id, writer, entries, min_dot, max_dot, first_epoch, first_seq, last_epoch, last_seq, readings)"
    private static let placeholders = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

    private static func write(_ chunk: RawChunk, id: Int64, with statement: DirectStatement) throws {
        let blob = chunk.encode()
        let first = chunk.entries.first!.position, last = chunk.entries.last!.position
        try statement.execute { row in
            row.int(id)
            row.int(StoredInteger.sortable(chunk.writer.rawValue))
            row.int(Int64(chunk.entries.count))
            row.int(StoredInteger.bits(chunk.minDot))
            row.int(StoredInteger.bits(chunk.maxDot))
            row.int(StoredInteger.sortable(first.epoch))
            row.int(StoredInteger.bits(first.seq))
            row.int(StoredInteger.sortable(last.epoch))
            row.int(StoredInteger.bits(last.seq))
            blob.withUnsafeBytes { row.blob($0) }
        }
    }

    // MARK: Reading

    static func deviceIDs(_ db: Database) throws -> [String: Int64] {
        var ids: [String: Int64] = [:]
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT id, name FROM device_name")) {
            ids[row[1] as String] = row[0] as Int64
        }
        return ids
    }

    /// The id of each of `devices`, giving the new ones the next free id.
    static func deviceIDs(for devices: some Sequence<String>, db: Database) throws -> [String: Int64] {
        var ids: [String: Int64] = [:]
        let insert = try db.cachedStatement(sql: "INSERT INTO device_name (name) VALUES (?)")
        for device in devices where ids[device] == nil {
            if let id = try deviceID(device, db: db) {
                ids[device] = id
            } else {
                try insert.execute(arguments: [device])
                ids[device] = db.lastInsertedRowID
            }
        }
        return ids
    }

    static func deviceID(_ device: String, db: Database) throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM device_name WHERE name = ?"), arguments: [device])
    }

    static func rowids(ofDevice id: Int64) -> ClosedRange<Int64> { (id << 32)...(id << 32 | 0xFFFF_FFFF) }

    /// Calls `body` with each chunk of `device` (and its rowid) whose last position is after
    /// `after` (every chunk when `nil`), in rowid order.
    static func forEachChunk(
        ofDevice device: String, after: RawChunk.Position? = nil, db: Database, path: String,
        _ body: (Int64, RawChunk) throws -> Void
    ) throws {
        guard let id = try deviceID(device, db: db) else { return }
        let range = rowids(ofDevice: id)
        var sql = "SELECT id, writer, readings FROM raw_chunk WHERE id BETWEEN ? AND ?"
        var arguments: StatementArguments = [range.lowerBound, range.upperBound]
        if let after {
            sql += " AND (last_epoch, last_seq) > (?, ?)"
            arguments += [StoredInteger.sortable(after.epoch), StoredInteger.bits(after.seq)]
        }
        try forEachChunk(sql: sql + " ORDER BY id", arguments: arguments, db: db, path: path) { id, chunk in try body(id, chunk) }
    }

    /// Calls `body` with every chunk, its device's name, in rowid order.
    static func forEachChunk(db: Database, path: String, _ body: (String, RawChunk) throws -> Void) throws {
        var names: [Int64: String] = [:]
        for (name, id) in try deviceIDs(db) { names[id] = name }
        try forEachChunk(sql: "SELECT id, writer, readings FROM raw_chunk ORDER BY id", arguments: [], db: db, path: path) { id, chunk in
            guard let name = names[id >> 32] else { throw StateReader.Unreadable("raw_chunk row \(id) has no device_name") }
            try body(name, chunk)
        }
    }

    /// The readings of `range.writer` with dots in `range` (after `after`, up to `through`), the
    /// `range.limit` lowest dots of them, ascending by dot, with their devices.
    static func entries(of range: StateReader.DotRange, db: Database, path: String) throws -> [(String, RawChunk.Entry)] {
        guard range.limit > 0 else { return [] }
        var names: [Int64: String]?
        var found: [(device: String, entry: RawChunk.Entry)] = []
        // Chunks by their lowest dot: once `limit` dots are found, a chunk whose lowest dot is
        // above the limit-th of them, and every later one, adds nothing.
        var sql = "SELECT id, writer, readings, min_dot FROM raw_chunk WHERE writer = ? AND max_dot > ?"
        var arguments: StatementArguments = [StoredInteger.sortable(range.writer.rawValue), StoredInteger.bits(range.after)]
        if let through = range.through {
            sql += " AND min_dot <= ?"
            arguments += [StoredInteger.bits(through)]
        }
        sql += " ORDER BY min_dot"
        let statement = try db.cachedStatement(sql: sql)
        let rows = try Row.fetchCursor(statement, arguments: arguments)
        while let row = try rows.next() {
            if found.count >= range.limit, StoredInteger.fromBits(row[3]) > found[range.limit - 1].entry.reading.dotCounter { break }
            let id: Int64 = row[0]
            if names == nil { names = Dictionary(uniqueKeysWithValues: try deviceIDs(db).map { ($1, $0) }) }
            guard let device = names?[id >> 32] else {
                throw StoreError.unreadableRow(path: path, table: "raw_chunk", detail: "row \(id) has no device_name")
            }
            let chunk = try decode(row, path: path)
            for entry in chunk.entries where entry.reading.dotCounter > range.after
                && range.through.map({ entry.reading.dotCounter <= $0 }) ?? true {
                found.append((device, entry))
            }
            found.sort { $0.entry.reading.dotCounter < $1.entry.reading.dotCounter }
            if found.count > range.limit { found.removeLast(found.count - range.limit) }
        }
        return found
    }

    private static func forEachChunk(
        sql: String, arguments: StatementArguments, db: Database, path: String, _ body: (Int64, RawChunk) throws -> Void
    ) throws {
        let rows = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: arguments)
        while let row = try rows.next() { try body(row[0], try decode(row, path: path)) }
    }

    /// Decodes a row whose columns 1 and 2 are `writer` and `readings`.
    private static func decode(_ row: Row, path: String) throws -> RawChunk {
        let writer = NodeID(rawValue: StoredInteger.fromSortable(row[1]))
        let chunk = try row.withUnsafeData(atIndex: 2) { data in
            data.flatMap { $0.withUnsafeBytes { RawChunk.decode($0, writer: writer) } }
        }
        guard let chunk else {
            throw StoreError.unreadableRow(path: path, table: "raw_chunk", detail: "row \(row[0] as Int64) does not decode")
        }
        return chunk
    }

    // MARK: Retention

    /// Keeps the newest `limit` readings (by epoch, then seq) of every device and deletes the
    /// rest (rewriting a chunk that straddles the cut); returns how many were deleted and, per
    /// device, how many of the deleted readings' dots `holder` lacks.
    static func prune(
        keepingPerDevice limit: Int, notHeldBy holder: CausalContext?, db: Database, path: String
    ) throws -> (deleted: Int, lost: [String: Int]) {
        let crowded = try String.fetchAll(
            db,
            sql: """
                SELECT name FROM device_name
                WHERE (SELECT SUM(entries) FROM raw_chunk WHERE id BETWEEN device_name.id << 32 AND (device_name.id << 32) + 4294967295) > ?
                """,
            arguments: [limit])
        var deleted = 0
        var lost: [String: Int] = [:]
        for device in crowded {
            var chunks: [(id: Int64, chunk: RawChunk)] = []
            try forEachChunk(ofDevice: device, db: db, path: path) { chunks.append(($0, $1)) }
            // Each position is held once (see append), so the cut is the limit-th newest of them.
            let positions = chunks.flatMap { $0.chunk.entries.map(\.position) }.sorted()
            let keepFrom = limit == 0 ? nil : positions[positions.count - limit]
            for (id, chunk) in chunks {
                let kept = keepFrom.map { cut in chunk.entries.filter { $0.position >= cut } } ?? []
                guard kept.count < chunk.entries.count else { continue }
                deleted += chunk.entries.count - kept.count
                if let holder {
                    let missing = chunk.entries.count { entry in
                        keepFrom.map { entry.position < $0 } ?? true && !holder.contains(entry.reading.dot)
                    }
                    if missing > 0 { lost[device, default: 0] += missing }
                }
                try replace(id, with: kept, of: chunk.writer, db: db)
            }
        }
        return (deleted, lost)
    }
}
