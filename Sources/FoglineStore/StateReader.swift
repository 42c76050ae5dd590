import Foundation
import FoglineCore
import GRDB

/// Reads stored rows back into FoglineCore values. Every decoding failure (a damaged file, a row
/// edited by hand) becomes a ``StoreError`` of kind ``StoreError/Kind/corrupt`` that names the
/// table, never a crash.
struct StateReader {
    let db: Database
    /// The database file, for error messages.
    let path: String

    /// The whole site state, rebuilt exactly: a fresh `SiteState` joined with one delta that
    /// carries every stored part. A join into an empty state is the identity, so this needs no
    /// access to SiteState's private storage.
    func siteState() throws -> SiteState {
        let delta = SiteDelta(
            context: try context(),
            registry: try fieldMaps(.registry), presence: try presence(),
            reported: try fieldMaps(.reported), desired: try fieldMaps(.desired),
            counters: try counters(), alarms: try alarms(), rollups: try rollups(), raw: try rawTelemetry())
        var state = SiteState()
        state.merge(delta)
        return state
    }

    func context() throws -> CausalContext {
        var vector: [(NodeID, UInt64)] = []
        try forEachRow("context_vector", sql: "SELECT node, counter FROM context_vector") { row in
            vector.append((try node(row, 0), try bits(row, 1)))
        }
        var context = CausalContext(versionVector: vector)
        try forEachRow("context_cloud", sql: "SELECT node, counter FROM context_cloud") { row in
            context.insert(Dot(node: try node(row, 0), counter: try bits(row, 1)))
        }
        return context
    }

    func alarms() throws -> DotKernel<Alarm> {
        var entries: [Dot: Alarm] = [:]
        try forEachRow("alarm", sql: "SELECT dot_node, dot_counter, device, code FROM alarm") { row in
            let dot = Dot(node: try node(row, 0), counter: try bits(row, 1))
            entries[dot] = Alarm(device: try row.decode(String.self, atIndex: 2), code: try row.decode(String.self, atIndex: 3))
        }
        return DotKernel(entries: entries)
    }

    /// One writer's entries after a dot counter, oldest first, at most `limit` of them and none
    /// beyond `through` when set, without those whose dots `peer` holds (see
    /// ``EdgeStore/replicaWindow(since:entriesPerWriter:)``).
    struct DotRange {
        var writer: NodeID
        var after: UInt64
        var through: UInt64? = nil
        var limit: Int
        var peer: CausalContext

        /// The SQL condition on a table whose writer and dot columns are named as given, and its
        /// arguments.
        func filter(writerColumn: String = "writer") -> (sql: String, arguments: StatementArguments) {
            let writer = StoredInteger.sortable(writer.rawValue)
            if let through {
                return (" WHERE \(writerColumn) = ? AND dot_counter > ? AND dot_counter <= ? ORDER BY dot_counter LIMIT ?",
                        [writer, StoredInteger.bits(after), StoredInteger.bits(through), limit])
            }
            return (" WHERE \(writerColumn) = ? AND dot_counter > ? ORDER BY dot_counter LIMIT ?",
                    [writer, StoredInteger.bits(after), limit])
        }

        func lacks(_ counter: UInt64) -> Bool { !peer.contains(Dot(node: writer, counter: counter)) }

        /// The tables holding an entry with a dot per row, each with the column naming the dot's
        /// node (raw readings, several to a row, are in `raw_chunk`).
        static let tables = [
            ("field_entry", "writer"), ("presence", "writer"), ("counter_cell", "node"), ("rollup", "writer"),
        ]
    }

    /// The `limit`-th smallest dot counter of `range`'s writer after `range.after`, over every
    /// part, or `nil` when there are fewer: reading each part only up to it reads the `limit`
    /// oldest entries and no more. Reads the `(writer, dot_counter)` indexes only.
    func dotCut(of range: DotRange) throws -> UInt64? {
        var counters: [UInt64] = []
        for (table, writerColumn) in DotRange.tables {
            let filter = range.filter(writerColumn: writerColumn)
            try forEachRow(table, sql: "SELECT dot_counter FROM \(table)" + filter.sql, arguments: filter.arguments) { row in
                counters.append(try bits(row, 0))
            }
        }
        counters += try RawChunkStore.entries(of: range, db: db, path: path).map(\.1.reading.dotCounter)
        guard counters.count >= range.limit, range.limit > 0 else { return nil }
        counters.sort()
        return counters[range.limit - 1]
    }

    func fieldMaps(_ part: FieldPart) throws -> FieldMaps {
        try fieldMaps(part, where: "WHERE part = ?", arguments: [part.rawValue])
    }

    func fieldMaps(_ part: FieldPart, in range: DotRange) throws -> FieldMaps {
        let filter = range.filter()
        var arguments: StatementArguments = [part.rawValue]
        arguments += filter.arguments
        return try fieldMaps(part, where: "WHERE part = ? AND " + filter.sql.dropFirst(" WHERE ".count), arguments: arguments) {
            range.lacks($0.dot.counter)
        }
    }

    private func fieldMaps(
        _ part: FieldPart, where condition: String, arguments: StatementArguments, keep: (FieldMaps.Field) -> Bool = { _ in true }
    ) throws -> FieldMaps {
        var maps = FieldMaps()
        try forEachRow(
            "field_entry",
            sql: """
                SELECT device, field, value_kind, value_number, value_text, value_bool, logical, writer, dot_counter
                FROM field_entry \(condition)
                """,
            arguments: arguments
        ) { row in
            let writer = try node(row, 7)
            let value: FieldValue
            switch try row.decode(String.self, atIndex: 2) {
            case "null": value = .null
            case "bool": value = .bool(try row.decode(Bool.self, atIndex: 5))
            case "number": value = .number(readReal(try row.decode(Double?.self, atIndex: 3)))
            case "text": value = .string(try row.decode(String.self, atIndex: 4))
            case let other: throw Unreadable("unknown value_kind \(other)")
            }
            let field = FieldMaps.Field(
                name: try row.decode(String.self, atIndex: 1), value: value,
                stamp: HLCTimestamp(logical: try sortable(row, 6), node: writer),
                dot: Dot(node: writer, counter: try bits(row, 8)))
            if keep(field) { maps.insert(device: try row.decode(String.self, atIndex: 0), field: field) }
        }
        return maps
    }

    func presence(in range: DotRange? = nil) throws -> LWWRegisterMap<String, Presence> {
        var map = LWWRegisterMap<String, Presence>()
        let filter = range?.filter() ?? (sql: "", arguments: [])
        try forEachRow(
            "presence", sql: "SELECT device, online, since_ms, logical, writer, dot_counter FROM presence" + filter.sql,
            arguments: filter.arguments
        ) { row in
            let register = LWWRegister(
                value: Presence(online: try row.decode(Bool.self, atIndex: 1), sinceMilliseconds: try bits(row, 2)),
                stamp: HLCTimestamp(logical: try sortable(row, 3), node: try node(row, 4)),
                dotCounter: try bits(row, 5))
            if range?.lacks(register.dotCounter) ?? true { map.insert(register, for: try row.decode(String.self, atIndex: 0)) }
        }
        return map
    }

    func counters(in range: DotRange? = nil) throws -> PNCounters {
        var counters = PNCounters()
        let filter = range?.filter(writerColumn: "node") ?? (sql: "", arguments: [])
        try forEachRow(
            "counter_cell", sql: "SELECT name, node, increments, decrements, dot_counter FROM counter_cell" + filter.sql,
            arguments: filter.arguments
        ) { row in
            let cell = PNCounters.Cell(increments: try bits(row, 2), decrements: try bits(row, 3), dotCounter: try bits(row, 4))
            guard range?.lacks(cell.dotCounter) ?? true else { return }
            counters.insert(cell, for: PNCounters.Key(name: try row.decode(String.self, atIndex: 0), node: try node(row, 1)))
        }
        return counters
    }

    func rollups() throws -> TelemetryRollups {
        var rollups = TelemetryRollups()
        try forEachRow(
            "rollup",
            sql: """
                SELECT device, metric, window_start_ms, writer, count, sum, min, max, last, last_logical, dot_counter
                FROM rollup
                """
        ) { row in
            let key = TelemetryRollups.Key(
                device: try row.decode(String.self, atIndex: 0), metric: try row.decode(String.self, atIndex: 1),
                windowStart: try bits(row, 2), writer: try node(row, 3))
            rollups.insert(try summary(row, from: 4), for: key)
        }
        // The cells committed since the last fold are the stored ones plus the journal's replay.
        try TelemetryJournal.replay(into: &rollups, db: db, path: path) { _ in nil }
        return rollups
    }

    /// Folded rollup cells only: call it right after a journal fold.
    func rollups(in range: DotRange) throws -> TelemetryRollups {
        var rollups = TelemetryRollups()
        let filter = range.filter()
        try forEachRow(
            "rollup",
            sql: "SELECT device, metric, window_start_ms, writer, count, sum, min, max, last, last_logical, dot_counter FROM rollup"
                + filter.sql,
            arguments: filter.arguments
        ) { row in
            let summary = try summary(row, from: 4)
            guard range.lacks(summary.dotCounter) else { return }
            let key = TelemetryRollups.Key(
                device: try row.decode(String.self, atIndex: 0), metric: try row.decode(String.self, atIndex: 1),
                windowStart: try bits(row, 2), writer: try node(row, 3))
            rollups.insert(summary, for: key)
        }
        return rollups
    }

    /// One stored rollup cell (without the journal's replay).
    func rollupCell(_ key: TelemetryRollups.Key) throws -> TelemetryRollups.Summary? {
        var found: TelemetryRollups.Summary?
        try forEachRow(
            "rollup",
            sql: """
                SELECT count, sum, min, max, last, last_logical, dot_counter FROM rollup
                WHERE device = ? AND metric = ? AND window_start_ms = ? AND writer = ?
                """,
            arguments: [key.device, key.metric, StoredInteger.bits(key.windowStart), StoredInteger.sortable(key.writer.rawValue)]
        ) { row in
            found = try summary(row, from: 0)
        }
        return found
    }

    /// Decodes the rollup columns `count, sum, min, max, last, last_logical, dot_counter`, which
    /// start at column `first`.
    private func summary(_ row: Row, from first: Int) throws -> TelemetryRollups.Summary {
        TelemetryRollups.Summary(
            count: try bits(row, first), sum: try real(row, first + 1), min: try real(row, first + 2),
            max: try real(row, first + 3), last: try real(row, first + 4), lastLogical: try sortable(row, first + 5),
            dotCounter: try bits(row, first + 6))
    }

    /// Folded raw readings only: call it right after a journal fold.
    func rawTelemetry(in range: DotRange) throws -> RawTelemetry {
        var raw = RawTelemetry()
        for (device, entry) in try RawChunkStore.entries(of: range, db: db, path: path) where range.lacks(entry.reading.dotCounter) {
            raw.insert(entry.reading, for: RawTelemetry.Key(device: device, epoch: entry.epoch, seq: entry.seq))
        }
        return raw
    }

    func rawTelemetry() throws -> RawTelemetry {
        var raw = RawTelemetry()
        // The folded readings, then those committed since the last fold (TelemetryJournal); insert
        // keeps the earlier stamp.
        try RawChunkStore.forEachChunk(db: db, path: path) { device, chunk in
            for entry in chunk.entries {
                raw.insert(entry.reading, for: RawTelemetry.Key(device: device, epoch: entry.epoch, seq: entry.seq))
            }
        }
        try TelemetryJournal.forEachReading(db, path: path) { key, reading, _ in raw.insert(reading, for: key) }
        return raw
    }

    static let readingColumns = "SELECT device, epoch, seq, metrics, device_time_ms, logical, writer, dot_counter"

    /// Calls `body` with every row of a query on `table` that selects ``readingColumns``.
    func forEachReading(
        _ table: String, sql: String, arguments: StatementArguments,
        _ body: (RawTelemetry.Key, RawTelemetry.Reading) throws -> Void
    ) throws {
        try forEachRow(table, sql: sql, arguments: arguments) { row in
            let (key, reading) = try Self.reading(row)
            try body(key, reading)
        }
    }

    /// Decodes the ``readingColumns`` of a row.
    static func reading(_ row: Row) throws -> (RawTelemetry.Key, RawTelemetry.Reading) {
        let metrics = try row.withUnsafeData(atIndex: 3) { data in data.flatMap(MetricsBlob.decode) }
        guard let metrics else { throw Unreadable("the metrics blob does not decode") }
        let key = RawTelemetry.Key(
            device: try row.decode(String.self, atIndex: 0),
            epoch: StoredInteger.fromSortable(try row.decode(Int64.self, atIndex: 1)),
            seq: StoredInteger.fromBits(try row.decode(Int64.self, atIndex: 2)))
        let reading = RawTelemetry.Reading(
            values: metrics, deviceTime: try row.decode(Int64?.self, atIndex: 4),
            stamp: HLCTimestamp(
                logical: StoredInteger.fromSortable(try row.decode(Int64.self, atIndex: 5)),
                node: NodeID(rawValue: StoredInteger.fromSortable(try row.decode(Int64.self, atIndex: 6)))),
            dotCounter: StoredInteger.fromBits(try row.decode(Int64.self, atIndex: 7)))
        return (key, reading)
    }

    static let ingestColumns = "device, epoch, last_seq, received, duplicates, gaps, missing_ranges"

    /// Calls `body` with every row of a query on `table` (`ingest_state`, or `ingest_log` in a v3
    /// database) that selects ``ingestColumns``.
    func forEachIngestRow(_ table: String, sql: String, _ body: (IngestRow) throws -> Void) throws {
        try forEachRow(table, sql: sql) { row in
            try body(IngestRow(
                device: try row.decode(String.self, atIndex: 0),
                epoch: StoredInteger.fromBits(try row.decode(Int64.self, atIndex: 1)),
                lastSeq: try row.decode(Int64?.self, atIndex: 2).map(StoredInteger.fromBits),
                received: StoredInteger.fromBits(try row.decode(Int64.self, atIndex: 3)),
                duplicates: StoredInteger.fromBits(try row.decode(Int64.self, atIndex: 4)),
                gaps: StoredInteger.fromBits(try row.decode(Int64.self, atIndex: 5)),
                missingRanges: [UInt8](try row.decode(Data.self, atIndex: 6))))
        }
    }

    // MARK: Row helpers

    /// A row that decodes but does not make sense.
    struct Unreadable: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// Runs `sql` (a cached statement) and calls `body` per row; decoding errors name `table`.
    func forEachRow(
        _ table: String, sql: String, arguments: StatementArguments = [], _ body: (Row) throws -> Void
    ) throws {
        let statement = try db.cachedStatement(sql: sql)
        let rows = try Row.fetchCursor(statement, arguments: arguments)
        do {
            while let row = try rows.next() { try body(row) }
        } catch let error as RowDecodingError {
            throw StoreError.unreadableRow(path: path, table: table, detail: "\(error)")
        } catch let error as Unreadable {
            throw StoreError.unreadableRow(path: path, table: table, detail: error.description)
        }
    }

    private func node(_ row: Row, _ index: Int) throws -> NodeID {
        NodeID(rawValue: try sortable(row, index))
    }

    private func sortable(_ row: Row, _ index: Int) throws -> UInt64 {
        StoredInteger.fromSortable(try row.decode(Int64.self, atIndex: index))
    }

    private func bits(_ row: Row, _ index: Int) throws -> UInt64 {
        StoredInteger.fromBits(try row.decode(Int64.self, atIndex: index))
    }

    private func real(_ row: Row, _ index: Int) throws -> Double {
        readReal(try row.decode(Double?.self, atIndex: index))
    }
}
