import FoglineCore
import GRDB

/// The folded raw readings: ``RawChunk``s in `raw_chunk`, runs of one device's readings from
/// one writer.
///
/// A chunk's rowid is its device's id (`device_name`) shifted left 32 bits plus a number, so a
/// device's chunks are one rowid range (one seek). The table is a rowid table, not `WITHOUT
/// ROWID`, because a chunk (~20 bytes per reading) fits on a table leaf page but not in an index
/// cell (a quarter page), which would put every chunk on an overflow page of its own.
///
/// Invariant: in rowid order, a device's chunks hold strictly increasing positions (each chunk's
/// first position is above the previous chunk's last), each position once. So the oldest
/// positions are in the first chunks (retention deletes from the front and decodes one chunk),
/// a device's newest readings in the last ones, and a position is held once: of two ingestions
/// of a reading (two writers', or one writer's again after a restart) the earlier stamp stays,
/// as in `RawTelemetry.insert`, and the chunks hold exactly a `RawTelemetry`. ``append(_:db:path:)``
/// keeps it: readings after a device's last position become new chunks; a late one (a replayed
/// gap, another writer's copy) makes the device's chunks from the first it reaches onward be
/// rewritten, usually just the last one.
enum RawChunkStore {
    static func createTables(_ db: Database) throws {
        try db.execute(
            sql: """
                -- Device ids for raw_chunk rowids and journal segments; never reused. `stored`:
                -- how many readings of the device raw_chunk holds (retention reads no chunk to
                -- know who is over the limit).
                CREATE TABLE device_name (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL UNIQUE,
                    stored INTEGER NOT NULL DEFAULT 0
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
        try append(readings, db: db, path: "")
        try db.execute(sql: "DROP TABLE raw_telemetry")
    }

    // MARK: Writing

    /// Stores `readings` (in any order), keeping the invariant (see the type): of two readings at
    /// one position, here or already stored, the one with the earlier stamp stays.
    static func append(_ readings: some Sequence<(RawTelemetry.Key, RawTelemetry.Reading)>, db: Database, path: String) throws {
        var grouped: [String: [RawChunk.Entry]] = [:]
        for (key, reading) in readings {
            grouped[key.device, default: []].append(RawChunk.Entry(epoch: key.epoch, seq: key.seq, reading: reading))
        }
        var ids: [String: Int64] = [:]
        try resolveDeviceIDs(grouped.keys, into: &ids, db: db)
        try append(byDevice: Dictionary(uniqueKeysWithValues: grouped.map { (ids[$0.key]!, $0.value) }), db: db, path: path)
    }

    /// ``append(_:db:path:)`` for readings already grouped by device id (ids of `device_name`).
    static func append(byDevice grouped: [Int64: [RawChunk.Entry]], db: Database, path: String) throws {
        let insert = DirectStatement(try db.cachedStatement(sql: "INSERT INTO raw_chunk \(columns) VALUES \(placeholders)"))
        let count = try db.cachedStatement(sql: "UPDATE device_name SET stored = stored + ? WHERE id = ?")
        // In rowid order: each insert lands next to the previous one's page.
        for id in grouped.keys.sorted() {
            var entries = RawChunk.resolved(grouped[id]!)
            // The stored chunks the incoming positions reach back into: the last ones, from the
            // first whose last position is at or above the lowest incoming one. They are
            // rewritten with the incoming readings.
            var tail: [(id: Int64, chunk: RawChunk)] = []
            try walk(device: id, descending: true, db: db, path: path) { row in
                guard row.last >= entries[0].position else { return false }
                tail.insert((row.id, try row.decode()), at: 0)
                return true
            }
            let range = rowids(ofDevice: id)
            var next: Int64
            if let first = tail.first {
                next = first.id
                let replaced = tail.reduce(0) { $0 + $1.chunk.entries.count }
                try db.cachedStatement(sql: "DELETE FROM raw_chunk WHERE id BETWEEN ? AND ?").execute(arguments: [first.id, range.upperBound])
                entries = RawChunk.resolved(tail.flatMap(\.chunk.entries) + entries)
                try count.execute(arguments: [entries.count - replaced, id])
            } else {
                next = try Int64.fetchOne(db.cachedStatement(sql: "SELECT max(id) FROM raw_chunk WHERE id BETWEEN ? AND ?"),
                                          arguments: [range.lowerBound, range.upperBound]).map { $0 + 1 } ?? range.lowerBound
                try count.execute(arguments: [entries.count, id])
            }
            // Runs of one writer, at most maxEntries each, in position order.
            var start = 0
            while start < entries.count {
                let writer = entries[start].reading.stamp.node
                var end = start + 1
                while end < entries.count, end - start < RawChunk.maxEntries, entries[end].reading.stamp.node == writer { end += 1 }
                guard next <= range.upperBound else { throw StateReader.Unreadable("device id \(id) has 2^32 raw chunks") }
                try write(RawChunk(writer: writer, entries: Array(entries[start..<end])), id: next, with: insert)
                next += 1
                start = end
            }
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

    /// Adds to `ids` the id of each of `devices` it lacks, giving the new ones the next free id.
    /// Ids are never reused or removed, so `ids` can be kept across transactions that commit.
    static func resolveDeviceIDs(_ devices: some Sequence<String>, into ids: inout [String: Int64], db: Database) throws {
        for device in devices where ids[device] == nil {
            if let id = try deviceID(device, db: db) {
                ids[device] = id
            } else {
                try db.cachedStatement(sql: "INSERT INTO device_name (name) VALUES (?)").execute(arguments: [device])
                ids[device] = db.lastInsertedRowID
            }
        }
    }

    static func deviceID(_ device: String, db: Database) throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM device_name WHERE name = ?"), arguments: [device])
    }

    static func rowids(ofDevice id: Int64) -> ClosedRange<Int64> { (id << 32)...(id << 32 | 0xFFFF_FFFF) }

    /// A `raw_chunk` row being walked: its metadata, and its readings decoded on demand.
    struct ChunkRow {
        let id: Int64
        let entries: Int
        let first: RawChunk.Position
        let last: RawChunk.Position
        let decode: () throws -> RawChunk
    }

    /// Walks device `id`'s chunks in rowid (= position) order, or backwards, while `body` returns
    /// true: reads only the chunks it reaches.
    static func walk(
        device id: Int64, descending: Bool = false, db: Database, path: String,
        _ body: (ChunkRow) throws -> Bool
    ) throws {
        let range = rowids(ofDevice: id)
        let sql = """
            SELECT id, writer, readings, entries, first_epoch, first_seq, last_epoch, last_seq FROM raw_chunk
            WHERE id BETWEEN ? AND ? ORDER BY id
            """
        let rows = try Row.fetchCursor(
            db.cachedStatement(sql: sql + (descending ? " DESC" : "")), arguments: [range.lowerBound, range.upperBound])
        while let row = try rows.next() {
            let chunk = ChunkRow(
                id: row[0], entries: row[3],
                first: RawChunk.Position(epoch: StoredInteger.fromSortable(row[4]), seq: StoredInteger.fromBits(row[5])),
                last: RawChunk.Position(epoch: StoredInteger.fromSortable(row[6]), seq: StoredInteger.fromBits(row[7])),
                decode: { try decode(row, path: path) })
            guard try body(chunk) else { return }
        }
    }

    /// Calls `body` with each chunk of `device` holding a position after `after` (every chunk when
    /// `nil`), in position order, while it returns true.
    static func forEachChunk(
        ofDevice device: String, after: RawChunk.Position? = nil, db: Database, path: String,
        _ body: (RawChunk) throws -> Bool
    ) throws {
        guard let id = try deviceID(device, db: db) else { return }
        try walk(device: id, db: db, path: path) { row in
            guard after.map({ row.last > $0 }) ?? true else { return true }
            return try body(try row.decode())
        }
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
    /// rest; returns how many were deleted and, per device, how many of the deleted readings'
    /// dots `holder` lacks. Reads only the chunks it deletes or cuts (see the invariant).
    static func prune(
        keepingPerDevice limit: Int, notHeldBy holder: CausalContext?, db: Database, path: String
    ) throws -> (deleted: Int, lost: [String: Int]) {
        let crowded = try Row.fetchAll(
            db.cachedStatement(sql: "SELECT id, name, stored FROM device_name WHERE stored > ?"), arguments: [limit])
        var deleted = 0
        var lost: [String: Int] = [:]
        let delete = try db.cachedStatement(sql: "DELETE FROM raw_chunk WHERE id = ?")
        let rewrite = DirectStatement(try db.cachedStatement(sql: "REPLACE INTO raw_chunk \(columns) VALUES \(placeholders)"))
        for row in crowded {
            let id: Int64 = row[0], device: String = row[1], stored: Int = row[2]
            var excess = stored - limit
            var cut: (id: Int64, chunk: RawChunk, drop: Int)?
            var doomed: [Int64] = []
            var missing = 0
            try walk(device: id, db: db, path: path) { chunk in
                if chunk.entries <= excess {
                    doomed.append(chunk.id)
                    excess -= chunk.entries
                    if let holder { missing += try chunk.decode().entries.count { !holder.contains($0.reading.dot) } }
                } else if excess > 0 {
                    let decoded = try chunk.decode()
                    cut = (chunk.id, decoded, excess)
                    if let holder { missing += decoded.entries.prefix(excess).count { !holder.contains($0.reading.dot) } }
                    excess = 0
                }
                return excess > 0
            }
            for chunkID in doomed { try delete.execute(arguments: [chunkID]) }
            if let cut {
                try write(RawChunk(writer: cut.chunk.writer, entries: Array(cut.chunk.entries.dropFirst(cut.drop))), id: cut.id, with: rewrite)
            }
            let removed = stored - limit - excess
            guard excess == 0 else {
                throw StoreError.unreadableRow(
                    path: path, table: "raw_chunk", detail: "device \(device) counts \(stored) readings but its chunks hold \(stored - excess)")
            }
            try db.cachedStatement(sql: "UPDATE device_name SET stored = ? WHERE id = ?").execute(arguments: [limit, id])
            deleted += removed
            if missing > 0 { lost[device] = missing }
        }
        return (deleted, lost)
    }
}
