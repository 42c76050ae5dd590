public import FoglineCore
import FoglineStore
import Foundation
import GRDB
import Synchronization

/// The embedded cloud store: one SQLite database (GRDB, write-ahead log) for an aggregator that
/// runs as a single process. Writes go through one writer connection, so merges of a site
/// serialise; reads run on their own connections, each in one snapshot.
///
/// Every commit is fsynced (`synchronous=FULL`): a merge that returned is on disk, which the edge
/// relies on when it drops the deltas the aggregator acknowledged.
public final class SQLiteCloudStore: CloudStore {
    /// The database file, for error messages.
    public let path: String
    /// One connection for reads and writes. (A `DatabasePool` opens read-only reader
    /// connections lazily; under a heavily loaded test run some of those opens failed with
    /// SQLITE_CANTOPEN. Merges are fsync-bound anyway, so one connection costs little.)
    private let pool: DatabaseQueue
    private let closed = Mutex(false)

    /// Opens the database at `path`, creating it and its tables if needed. The directory must
    /// exist.
    ///
    /// - Throws: ``CloudStoreError`` when the file cannot be opened or is not a database.
    public init(path: String) throws {
        self.path = path
        var options = Configuration()
        options.label = "FoglineCloud.SQLiteCloudStore"
        options.journalMode = .wal
        options.busyMode = .timeout(5)
        options.prepareDatabase { db in
            // WAL with FULL: every commit is fsynced before it returns.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // A catch-up merges batches whose readings spread over every device, so each commit
            // touches pages all over the tables. With SQLite's 2 MB default cache most of those
            // were read back from the file for every batch, and a checkpoint every 4 MB of log
            // copied the same pages again and again: 64 MiB of cache and a checkpoint every
            // 64 MiB of log took bench-reconcile's catch-up from 20.9 s to 14.5 s.
            try db.execute(sql: "PRAGMA cache_size = -65536")
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 16384")
            // Multi-row upserts (``SQLUpsert``) keep a statement journal; in memory, not a temp file.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }
        do {
            pool = try DatabaseQueue(path: path, configuration: options)
            try pool.write { db in
                for statement in CloudSchema.statements { try db.execute(sql: SQLDialect.sqlite.sql(statement)) }
            }
        } catch {
            throw CloudStoreError(
                kind: .unavailable,
                description: "Cannot open the cloud store's SQLite database at \(path) (\(Self.message(of: error))). "
                    + "Check that its directory exists and is writable by this user, and that the file is a Fogline database.")
        }
    }

    public func merge(_ deltas: [SiteDelta], site: String) async throws -> ReplicaSummary {
        try await write("merge deltas of site \(site)") { db in
            try db.run(SQLStatement(BookkeepingSQL.insertSite, [.text(site)]))
            let merge = SiteMerge(deltas: deltas, storedContext: try db.context(site), storedAlarms: try db.alarms(site))
            for statement in merge.statements(site: site) { try db.run(statement) }
            return merge.summary
        }
    }

    public func summary(site: String) async throws -> ReplicaSummary {
        try await read("read the summary of site \(site)") { db in
            ReplicaSummary(context: try db.context(site), kernelDigest: try db.alarms(site).digest)
        }
    }

    public func batch(site: String, since peer: ReplicaSummary, maxEntries: Int) async throws -> SiteDelta? {
        try await read("read a batch of site \(site)") { db in
            let plan = SiteBatchPlan(peer: peer, maxEntries: maxEntries, context: try db.context(site), alarms: try db.alarms(site))
            if plan.peerLacksNothing { return nil }
            let rows = try plan.queries(site: site).map { query in
                (table: query.table, rows: try db.rows(query.statement, table: query.table.name))
            }
            return try plan.batch(rows: rows)
        }
    }

    public func sites() async throws -> [String] {
        try await read("list the sites") { db in
            try db.rows(SQLStatement(BookkeepingSQL.selectSites), table: "site").map { try $0.text(0) }.sorted()
        }
    }

    public func view(site: String) async throws -> SiteState {
        try await read("read site \(site)") { db in
            var parts = SiteParts()
            for table in PartTable.allCases where table != .raw {
                for row in try db.rows(SQLStatement(table.selectSite, [.text(site)]), table: table.name) {
                    try table.add(row, to: &parts)
                }
            }
            return parts.state(context: try db.context(site), alarms: try db.alarms(site))
        }
    }

    public func overview(site: String) async throws -> SiteOverview {
        try await read("read the overview of site \(site)") { db in
            let devices = try db.rows(SQLStatement(SiteStateSQL.selectDevices, Array(repeating: .text(site), count: 3)), table: "device")
            let online = try db.rows(SQLStatement(SiteStateSQL.selectOnlineDevices, [.text(site)]), table: "presence")
            return SiteOverview(
                context: try db.context(site), alarms: try db.alarms(site),
                devices: Set(try devices.map { try $0.text(0) }), online: Set(try online.map { try $0.text(0) }))
        }
    }

    public func telemetry(site: String) async throws -> [String: RawTelemetrySummary] {
        try await read("summarise the raw telemetry of site \(site)") { db in
            try BookkeepingSQL.telemetry(db.rows(SQLStatement(BookkeepingSQL.selectTelemetry, [.text(site)]), table: "raw_telemetry"))
        }
    }

    public func appendAudit(_ entries: [AuditEntry], site: String, node: String) async throws -> UInt64 {
        try await write("append to the audit chain of node \(node) of site \(site)") { db in
            let head = try AuditSQL.anchor(
                db.rows(SQLStatement(AuditSQL.selectHead, [.text(site), .text(node)]), table: "audit_entry"))
            let append = try AuditSQL.append(entries, after: head, site: site, node: node)
            for statement in append.statements { try db.run(statement) }
            return append.storedThrough
        }
    }

    public func audit(site: String) async throws -> [String: [AuditEntry]] {
        try await read("read the audit chains of site \(site)") { db in
            try AuditSQL.entries(db.rows(SQLStatement(AuditSQL.selectSite, [.text(site)]), table: "audit_entry"))
        }
    }

    public func addBatchPart(_ part: StoredBatchPart, site: String, node: String) async throws -> [StoredBatchPart]? {
        try await write("keep a batch part from node \(node) of site \(site)") { db in
            for statement in BookkeepingSQL.keep(part, site: site, node: node) { try db.run(statement) }
            let rows = try db.rows(BookkeepingSQL.selectParts(of: part, site: site, node: node), table: "batch_part")
            guard let parts = try BookkeepingSQL.completeBatch(rows, of: part) else { return nil }
            try db.run(BookkeepingSQL.deleteBatch(of: part, site: site, node: node))
            return parts
        }
    }

    public func recordContact(site: String, node: String, wallMilliseconds: UInt64) async throws {
        try await write("record a contact of node \(node) of site \(site)") { db in
            try db.run(SQLStatement(BookkeepingSQL.upsertContact, [.text(site), .text(node), .bits(wallMilliseconds)]))
        }
    }

    public func recordSiteStatus(_ status: [UInt8], site: String, node: String, wallMilliseconds: UInt64) async throws {
        try await write("record the status of site \(site) from node \(node)") { db in
            try db.run(BookkeepingSQL.upsertSiteStatus(status, site: site, node: node, wallMilliseconds: wallMilliseconds))
        }
    }

    public func siteStatus(site: String) async throws -> StoredSiteStatus? {
        try await read("read the status of site \(site)") { db in
            try BookkeepingSQL.siteStatus(db.rows(SQLStatement(BookkeepingSQL.selectSiteStatus, [.text(site)]), table: "site_status"))
        }
    }

    public func contacts(site: String) async throws -> [String: UInt64] {
        try await read("read the contacts of site \(site)") { db in
            try BookkeepingSQL.contacts(db.rows(SQLStatement(BookkeepingSQL.selectContacts, [.text(site)]), table: "contact"))
        }
    }

    public func close() async throws {
        let wasClosed = closed.withLock { closed in
            defer { closed = true }
            return closed
        }
        if !wasClosed { try pool.close() }
    }

    // MARK: Private

    private func write<T: Sendable>(_ operation: String, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try checkOpen()
        do {
            return try await pool.write(body)
        } catch {
            throw wrapped(error, operation)
        }
    }

    private func read<T: Sendable>(_ operation: String, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try checkOpen()
        do {
            return try await pool.read(body)
        } catch {
            throw wrapped(error, operation)
        }
    }

    private func checkOpen() throws {
        if closed.withLock({ $0 }) { throw CloudStoreError.closed("SQLite") }
    }

    /// Our own errors pass through; SQLite's become a sentence naming the file.
    private func wrapped(_ error: any Error, _ operation: String) -> any Error {
        if error is CloudStoreError || error is AuditAppendError { return error }
        return CloudStoreError(
            kind: .failed,
            description: "The cloud store could not \(operation) in \(path) (\(Self.message(of: error))). Check the "
                + "disk holding the database (space, permissions), then retry.")
    }

    private static func message(of error: any Error) -> String {
        if let error = error as? DatabaseError { return error.message ?? "\(error.resultCode)" }
        return "\(error)"
    }
}

extension Database {
    fileprivate func run(_ statement: SQLStatement) throws {
        try direct(statement).execute { $0.bind(statement.arguments) }
    }

    fileprivate func rows(_ statement: SQLStatement, table: String) throws -> [SQLRow] {
        let prepared = try direct(statement)
        try prepared.bind { $0.bind(statement.arguments) }
        let cursor = try Row.fetchCursor(prepared.statement)
        var rows: [SQLRow] = []
        while let row = try cursor.next() {
            rows.append(SQLRow(row.databaseValues.map(SQLValue.init), table: table))
        }
        return rows
    }

    /// The cached statement, bound through the C API: GRDB's `StatementArguments` built per
    /// value through a key path took 11 % of the aggregator's catch-up CPU, binding its
    /// 100-row upserts.
    private func direct(_ statement: SQLStatement) throws -> DirectStatement {
        DirectStatement(try cachedStatement(sql: SQLDialect.sqlite.sql(statement.sql)))
    }

    fileprivate func context(_ site: String) throws -> CausalContext {
        try SiteStateSQL.context(
            vector: rows(SQLStatement(SiteStateSQL.selectContextVector, [.text(site)]), table: "context_vector"),
            cloud: rows(SQLStatement(SiteStateSQL.selectContextCloud, [.text(site)]), table: "context_cloud"))
    }

    fileprivate func alarms(_ site: String) throws -> DotKernel<Alarm> {
        try SiteStateSQL.alarms(rows(SQLStatement(SiteStateSQL.selectAlarms, [.text(site)]), table: "alarm"))
    }
}

extension DirectStatement.Binder {
    fileprivate mutating func bind(_ values: [SQLValue]) {
        for value in values {
            switch value {
            case .null: null()
            case .integer(let number): int(number)
            case .real(let number): real(number)
            case .text(let string): text(string)
            case .blob(let bytes): bytes.withUnsafeBytes { blob($0) }
            }
        }
    }
}

extension SQLValue {
    fileprivate init(_ value: DatabaseValue) {
        switch value.storage {
        case .null: self = .null
        case .int64(let int): self = .integer(int)
        case .double(let double): self = .real(double)
        case .string(let text): self = .text(text)
        case .blob(let data): self = .blob([UInt8](data))
        }
    }
}
