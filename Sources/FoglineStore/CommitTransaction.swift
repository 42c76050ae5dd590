import Foundation
import FoglineCore
import GRDB

/// The body of ``EdgeStore/commit(_:)``: writes one ``StoreBatch`` inside an open transaction.
///
/// Statements are cached on the connection (`cachedStatement`), so the hot path (thousands of
/// telemetry rows a second) compiles each SQL string once per connection and only binds and
/// steps afterwards; raw readings and rollups, the bulk of it, bind through `DirectStatement`.
/// Before touching SQLite, the deltas of the batch are joined per part in memory with the parts'
/// own `merge`: a thousand readings of a hundred devices update a few hundred rollup cells, so
/// that is all that is written.
struct CommitTransaction {
    let db: Database
    /// The database file, for error messages.
    let path: String

    /// Writes `batch`; raw readings, ingest rows and (when they can be replayed) rollup cells go
    /// to the telemetry journal, which is folded when `journal` says it is due (see
    /// ``TelemetryJournal``). `journal` is the store's state: keep the result only if the
    /// transaction commits.
    func write(_ batch: StoreBatch, journal: inout TelemetryJournal.Pending, policy: TelemetryJournal.Policy) throws -> CommitReport {
        let changesBefore = db.totalChangesCount
        var report = CommitReport()
        if journal.mustFold {
            try TelemetryJournal.fold(db, path: path)
            journal = TelemetryJournal.Pending()
        }
        var raw: [(key: RawTelemetry.Key, reading: RawTelemetry.Reading, rollupDots: Int)] = []
        if !batch.deltas.isEmpty {
            raw = try upsertParts(of: batch.deltas, journal: &journal)
        }
        if !batch.deltas.isEmpty || batch.context != nil || batch.alarms != nil {
            try foldContextAndAlarms(batch)
        }
        report.blobBytes += try TelemetryJournal.append(raw: raw, ingest: batch.ingest, deviceIDs: &journal.deviceIDs, db: db)
        journal.journalRows += raw.count + batch.ingest.count
        if let bound = batch.hlcBound { try raiseHLCBound(to: bound) }
        try deleteOutbox(ids: batch.acknowledgedOutboxIDs)
        for message in batch.outboxAppends {
            report.outboxIDs.append(try append(message))
            report.blobBytes += message.payload.count
        }
        try upsertCommands(batch.commands)
        if policy.foldIsDue(journal) {
            try TelemetryJournal.fold(db, path: path)
            journal = TelemetryJournal.Pending(deviceIDs: journal.deviceIDs)
        }
        report.rowsChanged = db.totalChangesCount - changesBefore
        return report
    }

    // MARK: Site state parts

    /// The deltas' parts joined in memory, one value per part (absent when no delta carries it).
    private struct JoinedParts {
        var registry: FieldMaps?
        var reported: FieldMaps?
        var desired: FieldMaps?
        var presence: LWWRegisterMap<String, Presence>?
        var counters: PNCounters?
        var rollups: TelemetryRollups?
        var raw: RawTelemetry?

        init(_ deltas: [SiteDelta]) {
            for delta in deltas {
                Self.join(delta.registry, into: &registry)
                Self.join(delta.reported, into: &reported)
                Self.join(delta.desired, into: &desired)
                Self.join(delta.presence, into: &presence)
                Self.join(delta.counters, into: &counters)
                Self.join(delta.rollups, into: &rollups)
                Self.join(delta.raw, into: &raw)
            }
        }

        /// These parts ignore the contexts in `merge` (their join is per entry), so empty ones do.
        private static func join<Part: DotStore>(_ part: Part?, into joined: inout Part?) {
            guard let part else { return }
            if joined == nil {
                joined = part
            } else {
                joined!.merge(part, otherContext: CausalContext(), ownContext: CausalContext())
            }
        }
    }

    /// Upserts every part of `deltas` but the raw readings and deferrable rollups; returns the
    /// raw readings for the journal, each with the rollup dots it replays.
    private func upsertParts(
        of deltas: [SiteDelta], journal: inout TelemetryJournal.Pending
    ) throws -> [(key: RawTelemetry.Key, reading: RawTelemetry.Reading, rollupDots: Int)] {
        let parts = JoinedParts(deltas)
        if let part = parts.registry { try upsertFields(part, as: .registry) }
        if let part = parts.reported { try upsertFields(part, as: .reported) }
        if let part = parts.desired { try upsertFields(part, as: .desired) }
        if let part = parts.presence { try upsertPresence(part) }
        if let part = parts.counters { try upsertCounters(part) }
        var rollupDots: [Int: Int]?
        if let part = parts.rollups {
            let reader = StateReader(db: db, path: path)
            rollupDots = try journal.defer(deltas, storedCell: { try reader.rollupCell($0) })
            if rollupDots == nil {
                // Journal readings replayed later would land on top of these cells: fold them first.
                try TelemetryJournal.fold(db, path: path, ingest: false)
                journal.cells = [:]
                try upsertRollups(part)
            }
        }
        guard let part = parts.raw else { return [] }
        guard let rollupDots else { return part.readings.map { ($0.key, $0.value, 0) } }
        // Each delta's reading with its dots, in delta order: the order the replay needs.
        var rows: [(key: RawTelemetry.Key, reading: RawTelemetry.Reading, rollupDots: Int)] = []
        for (index, delta) in deltas.enumerated() {
            for (key, reading) in delta.raw?.readings ?? [:] { rows.append((key, reading, rollupDots[index] ?? 0)) }
        }
        return rows
    }

    private func upsertFields(_ part: FieldMaps, as group: FieldPart) throws {
        // LWW: the write with the higher (logical, writer) stamp wins, exactly FieldMaps' join.
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO field_entry (part, device, field, value_kind, value_number, value_text, value_bool,
                                         logical, writer, dot_counter)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (part, device, field) DO UPDATE SET
                    value_kind = excluded.value_kind, value_number = excluded.value_number,
                    value_text = excluded.value_text, value_bool = excluded.value_bool,
                    logical = excluded.logical, writer = excluded.writer, dot_counter = excluded.dot_counter
                WHERE (excluded.logical, excluded.writer) > (field_entry.logical, field_entry.writer)
                """)
        try part.forEachField { device, field in
            let value = StoredFieldValue(field.value)
            try statement.execute(arguments: [
                group.rawValue, device, field.name, value.kind, value.number, value.text, value.bool,
                StoredInteger.sortable(field.stamp.logical), StoredInteger.sortable(field.stamp.node.rawValue),
                StoredInteger.bits(field.dot.counter),
            ])
        }
    }

    private func upsertPresence(_ part: LWWRegisterMap<String, Presence>) throws {
        // LWW register: the higher HLC stamp wins.
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO presence (device, online, since_ms, logical, writer, dot_counter)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (device) DO UPDATE SET
                    online = excluded.online, since_ms = excluded.since_ms, logical = excluded.logical,
                    writer = excluded.writer, dot_counter = excluded.dot_counter
                WHERE (excluded.logical, excluded.writer) > (presence.logical, presence.writer)
                """)
        for (device, register) in part.registers {
            try statement.execute(arguments: [
                device, register.value.online, StoredInteger.bits(register.value.sinceMilliseconds),
                StoredInteger.sortable(register.stamp.logical), StoredInteger.sortable(register.stamp.node.rawValue),
                StoredInteger.bits(register.dotCounter),
            ])
        }
    }

    private func upsertCounters(_ part: PNCounters) throws {
        // A node's cell only grows; its higher dot is the newer cell.
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO counter_cell (name, node, increments, decrements, dot_counter)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (name, node) DO UPDATE SET
                    increments = excluded.increments, decrements = excluded.decrements,
                    dot_counter = excluded.dot_counter
                WHERE excluded.dot_counter > counter_cell.dot_counter
                """)
        for (key, cell) in part.cells {
            try statement.execute(arguments: [
                key.name, StoredInteger.sortable(key.node.rawValue), StoredInteger.bits(cell.increments),
                StoredInteger.bits(cell.decrements), StoredInteger.bits(cell.dotCounter),
            ])
        }
    }

    func upsertRollups(_ part: TelemetryRollups) throws {
        // Only the writer updates its own cell; its higher dot is the newer summary.
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO rollup (device, metric, window_start_ms, writer, count, sum, min, max, last,
                                    last_logical, dot_counter)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (device, metric, window_start_ms, writer) DO UPDATE SET
                    count = excluded.count, sum = excluded.sum, min = excluded.min, max = excluded.max,
                    last = excluded.last, last_logical = excluded.last_logical, dot_counter = excluded.dot_counter
                WHERE excluded.dot_counter > rollup.dot_counter
                """)
        let direct = DirectStatement(statement)
        for (key, summary) in part.cells {
            try direct.execute { row in
                row.text(key.device)
                row.text(key.metric)
                row.int(StoredInteger.bits(key.windowStart))
                row.int(StoredInteger.sortable(key.writer.rawValue))
                row.int(StoredInteger.bits(summary.count))
                row.real(summary.sum)
                row.real(summary.min)
                row.real(summary.max)
                row.real(summary.last)
                row.int(StoredInteger.sortable(summary.lastLogical))
                row.int(StoredInteger.bits(summary.dotCounter))
            }
        }
    }

    // MARK: Causal context and alarms

    /// Folds the deltas' contexts and alarm kernels, then the snapshot, into the stored ones, as
    /// `SiteState.merge` would, and rewrites the (small) tables when they changed.
    private func foldContextAndAlarms(_ batch: StoreBatch) throws {
        let storedContext = try StateReader(db: db, path: path).context()
        let touchesAlarms = batch.alarms != nil || batch.deltas.contains { $0.alarms != nil }
        let storedAlarms = touchesAlarms ? try StateReader(db: db, path: path).alarms() : DotKernel<Alarm>()
        var context = storedContext
        var alarms = storedAlarms
        func fold(_ deltaContext: CausalContext, _ kernel: DotKernel<Alarm>?) {
            if let kernel { alarms.merge(kernel, otherContext: deltaContext, ownContext: context) }
            context.formUnion(deltaContext)
        }
        for delta in batch.deltas { fold(delta.context, delta.alarms) }
        if let snapshot = batch.context { fold(snapshot, batch.alarms) }
        if context != storedContext { try replaceContext(storedContext, with: context) }
        if touchesAlarms && alarms != storedAlarms { try replaceAlarms(with: alarms) }
    }

    /// Writes what changed from `stored` to `context`: usually one counter of the version vector
    /// (one page), and the dot cloud only when it changed.
    private func replaceContext(_ stored: CausalContext, with context: CausalContext) throws {
        let storedVector = Dictionary(uniqueKeysWithValues: stored.versionVector.map { ($0.node, $0.counter) })
        let vector = try db.cachedStatement(
            sql: "INSERT INTO context_vector (node, counter) VALUES (?, ?) ON CONFLICT (node) DO UPDATE SET counter = excluded.counter")
        let current = Dictionary(uniqueKeysWithValues: context.versionVector.map { ($0.node, $0.counter) })
        for (node, counter) in current where storedVector[node] != counter {
            try vector.execute(arguments: [StoredInteger.sortable(node.rawValue), StoredInteger.bits(counter)])
        }
        let removed = try db.cachedStatement(sql: "DELETE FROM context_vector WHERE node = ?")
        for node in storedVector.keys where current[node] == nil {
            try removed.execute(arguments: [StoredInteger.sortable(node.rawValue)])
        }
        guard context.cloud != stored.cloud else { return }
        try db.cachedStatement(sql: "DELETE FROM context_cloud").execute()
        let cloud = try db.cachedStatement(sql: "INSERT INTO context_cloud (node, counter) VALUES (?, ?)")
        for dot in context.cloud {
            try cloud.execute(arguments: [StoredInteger.sortable(dot.node.rawValue), StoredInteger.bits(dot.counter)])
        }
    }

    private func replaceAlarms(with kernel: DotKernel<Alarm>) throws {
        try db.cachedStatement(sql: "DELETE FROM alarm").execute()
        let statement = try db.cachedStatement(
            sql: "INSERT INTO alarm (dot_node, dot_counter, device, code) VALUES (?, ?, ?, ?)")
        for (dot, alarm) in kernel.entries {
            try statement.execute(arguments: [
                StoredInteger.sortable(dot.node.rawValue), StoredInteger.bits(dot.counter), alarm.device, alarm.code,
            ])
        }
    }

    // MARK: Edge bookkeeping

    private func raiseHLCBound(to bound: UInt64) throws {
        // Never lowered: a clock restarted from a lower bound could reissue timestamps.
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO hlc_bound (id, bound_ms) VALUES (1, ?)
                ON CONFLICT (id) DO UPDATE SET bound_ms = excluded.bound_ms
                WHERE excluded.bound_ms > hlc_bound.bound_ms
                """)
        try statement.execute(arguments: [StoredInteger.bits(bound)])
    }

    private func deleteOutbox(ids: [Int64]) throws {
        guard !ids.isEmpty else { return }
        let statement = try db.cachedStatement(sql: "DELETE FROM outbox WHERE id = ?")
        for id in ids { try statement.execute(arguments: [id]) }
    }

    private func append(_ message: OutboxMessage) throws -> Int64 {
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO outbox (topic, payload, qos, retain, created_ms, dedupe_key)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (dedupe_key) DO NOTHING
                """)
        try statement.execute(arguments: [
            message.topic, Data(message.payload), Int64(message.qos.rawValue), message.retain,
            StoredInteger.bits(message.createdMilliseconds), message.deduplicationKey,
        ])
        if db.changesCount > 0 { return db.lastInsertedRowID }
        // The key was already there: this message was appended by an earlier commit.
        let existing = try db.cachedStatement(sql: "SELECT id FROM outbox WHERE dedupe_key = ?")
        guard let id = try Int64.fetchOne(existing, arguments: [message.deduplicationKey]) else {
            throw StoreError(
                kind: .failed, path: path, operation: "append to the outbox",
                underlying: "the message was neither inserted nor found by its deduplication key")
        }
        return id
    }

    private func upsertCommands(_ commands: [CommandRecord]) throws {
        guard !commands.isEmpty else { return }
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO command (id, device, name, args_json, fence, status, attempts, created_ms, deadline_ms, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET
                    device = excluded.device, name = excluded.name, args_json = excluded.args_json,
                    fence = excluded.fence, status = excluded.status, attempts = excluded.attempts,
                    created_ms = excluded.created_ms, deadline_ms = excluded.deadline_ms, detail = excluded.detail
                """)
        for command in commands {
            try statement.execute(arguments: [
                command.id, command.device, command.name, command.argumentsJSON, StoredInteger.bits(command.fence),
                command.status.rawValue, Int64(command.attempts), StoredInteger.bits(command.createdMilliseconds),
                StoredInteger.bits(command.deadlineMilliseconds), command.detail,
            ])
        }
    }
}

/// Which of the three FieldMaps parts a `field_entry` row belongs to.
enum FieldPart: String, CaseIterable {
    case registry, reported, desired
}

/// A FieldValue as the `field_entry` value columns hold it.
struct StoredFieldValue {
    var kind: String
    var number: Double?
    var text: String?
    var bool: Bool?

    init(_ value: FieldValue) {
        switch value {
        case .null: kind = "null"
        case .bool(let flag): kind = "bool"; bool = flag
        case .number(let number): kind = "number"; self.number = storedReal(number)
        case .string(let text): kind = "text"; self.text = text
        }
    }
}

/// A Double for a nullable `REAL` column: NaN, which SQLite would turn into `NULL` anyway, is
/// written as `NULL` explicitly and read back as NaN (see `readReal(_:)`).
@inline(__always)
func storedReal(_ value: Double) -> Double? { value.isNaN ? nil : value }

/// The inverse of `storedReal(_:)`.
@inline(__always)
func readReal(_ value: Double?) -> Double { value ?? .nan }
