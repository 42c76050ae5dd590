import FoglineStore
import Foundation
internal import FoglineCore

/// The SQL of the replicated site state, shared by both backends: the per-entry upserts that are
/// exactly the parts' joins, the reads that rebuild parts from rows, and the causal context and
/// alarm kernel, which are folded in Swift (``SiteMerge``).
///
/// Mirrors the edge's store (FoglineStore's `CommitTransaction` and `StateReader`) with a `site`
/// column in every table.
enum SiteStateSQL {
    // MARK: Upserts: the join of one entry each

    /// The statements that join every entry-store part of `delta` into site `site`'s rows
    /// (the alarm kernel and the context are folded separately, see ``SiteMerge``).
    static func upserts(of delta: SiteDelta, site: String) -> [SQLStatement] {
        var fieldRows: [[SQLValue]] = []
        func fields(_ part: FieldMaps?, _ name: String) {
            part?.forEachField { device, field in
                let value = StoredFieldValue(field.value)
                fieldRows.append([
                    .text(site), .text(name), .text(device), .text(field.name), .text(value.kind), value.number,
                    value.text, value.bool, .sortable(field.stamp.logical), .sortable(field.stamp.node.rawValue),
                    .bits(field.dot.counter),
                ])
            }
        }
        fields(delta.registry, "registry")
        fields(delta.reported, "reported")
        fields(delta.desired, "desired")
        let presenceRows: [[SQLValue]] = (delta.presence?.registers ?? [:]).map { device, register in
            [
                .text(site), .text(device), .flag(register.value.online), .bits(register.value.sinceMilliseconds),
                .sortable(register.stamp.logical), .sortable(register.stamp.node.rawValue), .bits(register.dotCounter),
            ]
        }
        let counterRows: [[SQLValue]] = (delta.counters?.cells ?? [:]).map { key, cell in
            [.text(site), .text(key.name), .sortable(key.node.rawValue), .bits(cell.increments), .bits(cell.decrements), .bits(cell.dotCounter)]
        }
        let rollupRows: [[SQLValue]] = (delta.rollups?.cells ?? [:]).map { key, summary in
            [
                .text(site), .text(key.device), .text(key.metric), .bits(key.windowStart), .sortable(key.writer.rawValue),
                .bits(summary.count), .number(summary.sum), .number(summary.min), .number(summary.max),
                .number(summary.last), .sortable(summary.lastLogical), .bits(summary.dotCounter),
            ]
        }
        let rawRows: [[SQLValue]] = (delta.raw?.readings ?? [:]).map { key, reading in
            [
                .text(site), .text(key.device), .sortable(key.epoch), .bits(key.seq), .blob([UInt8](MetricsBlob.encode(reading.values))),
                reading.deviceTime.map { .integer($0) } ?? .null, .sortable(reading.stamp.logical),
                .sortable(reading.stamp.node.rawValue), .bits(reading.dotCounter),
            ]
        }
        return upsertField.statements(fieldRows) + upsertPresence.statements(presenceRows)
            + upsertCounter.statements(counterRows) + upsertRollup.statements(rollupRows) + upsertRaw.statements(rawRows)
    }

    /// LWW: the write with the higher (logical, writer) stamp wins, exactly FieldMaps' join.
    static let upsertField = SQLUpsert(
        table: "field_entry",
        columns: ["site", "part", "device", "field", "value_kind", "value_number", "value_text", "value_bool", "logical", "writer", "dot_counter"],
        onConflict: """
            ON CONFLICT (site, part, device, field) DO UPDATE SET
                value_kind = excluded.value_kind, value_number = excluded.value_number,
                value_text = excluded.value_text, value_bool = excluded.value_bool,
                logical = excluded.logical, writer = excluded.writer, dot_counter = excluded.dot_counter
            WHERE (excluded.logical, excluded.writer) > (t.logical, t.writer)
            """)

    /// LWW register: the higher HLC stamp wins.
    static let upsertPresence = SQLUpsert(
        table: "presence", columns: ["site", "device", "online", "since_ms", "logical", "writer", "dot_counter"],
        onConflict: """
            ON CONFLICT (site, device) DO UPDATE SET
                online = excluded.online, since_ms = excluded.since_ms, logical = excluded.logical,
                writer = excluded.writer, dot_counter = excluded.dot_counter
            WHERE (excluded.logical, excluded.writer) > (t.logical, t.writer)
            """)

    /// A node's counter cell only grows; its higher dot is the newer cell.
    static let upsertCounter = SQLUpsert(
        table: "counter_cell", columns: ["site", "name", "node", "increments", "decrements", "dot_counter"],
        onConflict: """
            ON CONFLICT (site, name, node) DO UPDATE SET
                increments = excluded.increments, decrements = excluded.decrements, dot_counter = excluded.dot_counter
            WHERE excluded.dot_counter > t.dot_counter
            """)

    /// Only the writer updates its own rollup cell; its higher dot is the newer summary.
    static let upsertRollup = SQLUpsert(
        table: "rollup",
        columns: ["site", "device", "metric", "window_start_ms", "writer", "count", "sum", "min", "max", "last", "last_logical", "dot_counter"],
        onConflict: """
            ON CONFLICT (site, device, metric, window_start_ms, writer) DO UPDATE SET
                count = excluded.count, sum = excluded.sum, min = excluded.min, max = excluded.max,
                last = excluded.last, last_logical = excluded.last_logical, dot_counter = excluded.dot_counter
            WHERE excluded.dot_counter > t.dot_counter
            """)

    /// Grow-only by (device, epoch, seq); two ingestions of one reading keep the earlier stamp.
    static let upsertRaw = SQLUpsert(
        table: "raw_telemetry", columns: ["site", "device", "epoch", "seq", "metrics", "device_time_ms", "logical", "writer", "dot_counter"],
        onConflict: """
            ON CONFLICT (site, device, epoch, seq) DO UPDATE SET
                metrics = excluded.metrics, device_time_ms = excluded.device_time_ms, logical = excluded.logical,
                writer = excluded.writer, dot_counter = excluded.dot_counter
            WHERE (excluded.logical, excluded.writer) < (t.logical, t.writer)
            """)

    // MARK: Causal context and alarm kernel

    static let selectContextVector = "SELECT node, counter FROM @context_vector WHERE site = ?"
    static let selectContextCloud = "SELECT node, counter FROM @context_cloud WHERE site = ?"
    static let selectAlarms = "SELECT dot_node, dot_counter, device, code FROM @alarm WHERE site = ?"
    /// Every device with an entry in a part table but raw telemetry (whose devices have rollups).
    /// Arguments: the site, three times.
    static let selectDevices = """
        SELECT device FROM @field_entry WHERE site = ?
        UNION SELECT device FROM @presence WHERE site = ?
        UNION SELECT device FROM @rollup WHERE site = ?
        """
    static let selectOnlineDevices = "SELECT device FROM @presence WHERE site = ? AND online = 1"

    static func context(vector: [SQLRow], cloud: [SQLRow]) throws -> CausalContext {
        var context = CausalContext(versionVector: try vector.map { (NodeID(rawValue: try $0.sortable(0)), try $0.bits(1)) })
        for row in cloud { context.insert(Dot(node: NodeID(rawValue: try row.sortable(0)), counter: try row.bits(1))) }
        return context
    }

    static func alarms(_ rows: [SQLRow]) throws -> DotKernel<Alarm> {
        var entries: [Dot: Alarm] = [:]
        for row in rows {
            entries[Dot(node: NodeID(rawValue: try row.sortable(0)), counter: try row.bits(1))] =
                Alarm(device: try row.text(2), code: try row.text(3))
        }
        return DotKernel(entries: entries)
    }

    /// Replaces the site's stored context (a handful of rows: one per writer, plus real gaps).
    static func rewrite(context: CausalContext, site: String) -> [SQLStatement] {
        var statements = [
            SQLStatement("DELETE FROM @context_vector WHERE site = ?", [.text(site)]),
            SQLStatement("DELETE FROM @context_cloud WHERE site = ?", [.text(site)]),
        ]
        for (node, counter) in context.versionVector {
            statements.append(SQLStatement(
                "INSERT INTO @context_vector (site, node, counter) VALUES (?, ?, ?)",
                [.text(site), .sortable(node.rawValue), .bits(counter)]))
        }
        for dot in context.cloud {
            statements.append(SQLStatement(
                "INSERT INTO @context_cloud (site, node, counter) VALUES (?, ?, ?)",
                [.text(site), .sortable(dot.node.rawValue), .bits(dot.counter)]))
        }
        return statements
    }

    /// Replaces the site's stored alarm kernel (its active alarms).
    static func rewrite(alarms: DotKernel<Alarm>, site: String) -> [SQLStatement] {
        var statements = [SQLStatement("DELETE FROM @alarm WHERE site = ?", [.text(site)])]
        for (dot, alarm) in alarms.entries.sorted(by: { $0.key < $1.key }) {
            statements.append(SQLStatement(
                "INSERT INTO @alarm (site, dot_node, dot_counter, device, code) VALUES (?, ?, ?, ?, ?)",
                [.text(site), .sortable(dot.node.rawValue), .bits(dot.counter), .text(alarm.device), .text(alarm.code)]))
        }
        return statements
    }
}

/// A FieldValue as the `field_entry` value columns hold it.
struct StoredFieldValue {
    var kind: String
    var number: SQLValue = .null
    var text: SQLValue = .null
    var bool: SQLValue = .null

    init(_ value: FieldValue) {
        switch value {
        case .null: kind = "null"
        case .bool(let flag): kind = "bool"; bool = .flag(flag)
        case .number(let number): kind = "number"; self.number = .number(number)
        case .string(let text): kind = "text"; self.text = .text(text)
        }
    }
}

/// The tables of the entry-store parts: what a site's rows are read back with, whole (views) or
/// per writer from a dot counter on (batches).
enum PartTable: CaseIterable, Sendable {
    case fields, presence, counters, rollups, raw

    var name: String {
        switch self {
        case .fields: "field_entry"
        case .presence: "presence"
        case .counters: "counter_cell"
        case .rollups: "rollup"
        case .raw: "raw_telemetry"
        }
    }

    /// The column holding the node of each entry's dot.
    var writerColumn: String { self == .counters ? "node" : "writer" }

    var columns: String {
        switch self {
        case .fields: "part, device, field, value_kind, value_number, value_text, value_bool, logical, writer, dot_counter"
        case .presence: "device, online, since_ms, logical, writer, dot_counter"
        case .counters: "name, node, increments, decrements, dot_counter"
        case .rollups: "device, metric, window_start_ms, writer, count, sum, min, max, last, last_logical, dot_counter"
        case .raw: "device, epoch, seq, metrics, device_time_ms, logical, writer, dot_counter"
        }
    }

    /// Every row of a site.
    var selectSite: String { "SELECT \(columns) FROM @\(name) WHERE site = ?" }

    /// Arguments: site, writer (sortable), the dot counter to start after, the row limit.
    var selectWriterAfter: String {
        "SELECT \(columns) FROM @\(name) WHERE site = ? AND \(writerColumn) = ? AND dot_counter > ? ORDER BY dot_counter LIMIT ?"
    }

    /// Joins one row (selected with ``columns``) into `parts`.
    func add(_ row: SQLRow, to parts: inout SiteParts) throws {
        switch self {
        case .fields:
            let writer = NodeID(rawValue: try row.sortable(8))
            let value: FieldValue
            switch try row.text(3) {
            case "null": value = .null
            case "bool": value = .bool(try row.int(6) != 0)
            case "number": value = .number(try row.real(4))
            case "text": value = .string(try row.text(5))
            case let other: throw row.unreadable("unknown value_kind \(other)")
            }
            let field = FieldMaps.Field(
                name: try row.text(2), value: value, stamp: HLCTimestamp(logical: try row.sortable(7), node: writer),
                dot: Dot(node: writer, counter: try row.bits(9)))
            switch try row.text(0) {
            case "registry": parts.registry.insert(device: try row.text(1), field: field)
            case "reported": parts.reported.insert(device: try row.text(1), field: field)
            case "desired": parts.desired.insert(device: try row.text(1), field: field)
            case let other: throw row.unreadable("unknown part \(other)")
            }
        case .presence:
            let register = LWWRegister(
                value: Presence(online: try row.int(1) != 0, sinceMilliseconds: try row.bits(2)),
                stamp: HLCTimestamp(logical: try row.sortable(3), node: NodeID(rawValue: try row.sortable(4))),
                dotCounter: try row.bits(5))
            parts.presence.insert(register, for: try row.text(0))
        case .counters:
            parts.counters.insert(
                PNCounters.Cell(increments: try row.bits(2), decrements: try row.bits(3), dotCounter: try row.bits(4)),
                for: PNCounters.Key(name: try row.text(0), node: NodeID(rawValue: try row.sortable(1))))
        case .rollups:
            let key = TelemetryRollups.Key(
                device: try row.text(0), metric: try row.text(1), windowStart: try row.bits(2),
                writer: NodeID(rawValue: try row.sortable(3)))
            let summary = TelemetryRollups.Summary(
                count: try row.bits(4), sum: try row.real(5), min: try row.real(6), max: try row.real(7),
                last: try row.real(8), lastLogical: try row.sortable(9), dotCounter: try row.bits(10))
            parts.rollups.insert(summary, for: key)
        case .raw:
            guard let metrics = MetricsBlob.decode(Data(try row.blob(3))) else { throw row.unreadable("the metrics blob does not decode") }
            let key = RawTelemetry.Key(device: try row.text(0), epoch: try row.sortable(1), seq: try row.bits(2))
            let reading = RawTelemetry.Reading(
                values: metrics, deviceTime: try row.optionalInt(4),
                stamp: HLCTimestamp(logical: try row.sortable(5), node: NodeID(rawValue: try row.sortable(6))),
                dotCounter: try row.bits(7))
            parts.raw.insert(reading, for: key)
        }
    }
}

/// Entry-store parts read back from rows.
struct SiteParts {
    var registry = FieldMaps()
    var reported = FieldMaps()
    var desired = FieldMaps()
    var presence = LWWRegisterMap<String, Presence>()
    var counters = PNCounters()
    var rollups = TelemetryRollups()
    var raw = RawTelemetry()

    /// The state these parts make with `context` and `alarms`: a fresh `SiteState` joined with one
    /// delta carrying them (a join into an empty state is the identity), as the edge's
    /// `StateReader.siteState` does.
    func state(context: CausalContext, alarms: DotKernel<Alarm>) -> SiteState {
        var state = SiteState()
        state.merge(SiteDelta(
            context: context, registry: registry, presence: presence, reported: reported, desired: desired,
            counters: counters, alarms: alarms, rollups: rollups, raw: raw))
        return state
    }
}

/// The causal context and alarm kernel of one merge of deltas, applied in order, folded in Swift
/// exactly as ``SiteState/merge(_:)`` does for each: the kernel joins with the delta's context
/// and the context so far, then the contexts unite.
struct SiteMerge {
    let deltas: [SiteDelta]
    let storedContext: CausalContext
    let storedAlarms: DotKernel<Alarm>
    private(set) var context: CausalContext
    private(set) var alarms: DotKernel<Alarm>

    init(deltas: [SiteDelta], storedContext: CausalContext, storedAlarms: DotKernel<Alarm>) {
        self.deltas = deltas
        self.storedContext = storedContext
        self.storedAlarms = storedAlarms
        var context = storedContext
        var alarms = storedAlarms
        for delta in deltas {
            if let part = delta.alarms { alarms.merge(part, otherContext: delta.context, ownContext: context) }
            context.formUnion(delta.context)
        }
        self.context = context
        self.alarms = alarms
    }

    var summary: ReplicaSummary { ReplicaSummary(context: context, kernelDigest: alarms.digest) }

    /// Everything the merge writes for site `site`: each delta's entry upserts, in order, then the
    /// context and the kernel where they changed (once for all the deltas).
    func statements(site: String) -> [SQLStatement] {
        var statements = deltas.flatMap { SiteStateSQL.upserts(of: $0, site: site) }
        if context != storedContext { statements += SiteStateSQL.rewrite(context: context, site: site) }
        if alarms != storedAlarms { statements += SiteStateSQL.rewrite(alarms: alarms, site: site) }
        return statements
    }
}
