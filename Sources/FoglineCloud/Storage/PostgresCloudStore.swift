public import FoglineCore
public import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The shared cloud store: a PostgreSQL database that several `fogline-cloud serve` processes
/// use at once (DESIGN.md, "Edge ↔ cloud": scale-out).
///
/// Its tables live in one schema, created with `CREATE TABLE IF NOT EXISTS` on open. Merges of a
/// site serialise on that site's row in `site` (`SELECT … FOR UPDATE` at the start of the
/// transaction), across processes; audit appends and multi-part batches take a transaction-scoped
/// advisory lock on their (site, node) and (site, node, batch). Reads that span tables run in one
/// `REPEATABLE READ` snapshot. A call returns after `COMMIT`, so a merge that returned is durable.
///
/// The store owns a `PostgresClient` (a connection pool) and the task that runs it; ``close()``
/// ends that task.
public final class PostgresCloudStore: CloudStore {
    private let client: PostgresClient
    private let runTask: Task<Void, Never>
    private let dialect: SQLDialect
    private let schema: String
    private let url: PostgresURL
    private let logger: Logger
    private let closed = Mutex(false)

    /// Connects to the database at `url` (`postgres://user:pass@host:port/db`) and creates the
    /// schema `schema` and its tables if they do not exist.
    ///
    /// - Throws: ``CloudStoreError`` when the URL or schema name is not usable, or PostgreSQL
    ///   cannot be reached or refuses the login.
    public init(url: String, schema: String = "public", logger: Logger) async throws {
        let parsed = try PostgresURL(url)
        guard SQLDialect.isPlainIdentifier(schema) else {
            throw CloudStoreError(
                kind: .invalidConfiguration,
                description: "The PostgreSQL schema name \"\(schema)\" is not usable: use letters, digits and underscores "
                    + "(at most 63, not starting with a digit).")
        }
        self.url = parsed
        self.schema = schema
        self.dialect = .postgres(schema: schema)
        self.logger = logger
        var configuration = PostgresClient.Configuration(
            host: parsed.host, port: parsed.port, username: parsed.username, password: parsed.password,
            database: parsed.database, tls: .disable)
        configuration.options.maximumConnections = 16
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        // Started immediately, so `run()` is running before the first lease below (a plain Task may
        // start later, and the client then warns that it is not running yet).
        if #available(macOS 26.0, *) {
            runTask = Task.immediate { await client.run() }
        } else {
            runTask = Task { await client.run() }
        }
        do {
            try await createTables()
        } catch {
            runTask.cancel()
            throw error
        }
    }

    public func merge(_ deltas: [SiteDelta], site: String) async throws -> ReplicaSummary {
        try await transaction("merge deltas of site \(site)") { connection in
            try await self.run(SQLStatement(BookkeepingSQL.insertSite, [.text(site)]), on: connection)
            // Serialises merges of this site across every process sharing the database.
            _ = try await self.rows(SQLStatement("SELECT name FROM @site WHERE name = ? FOR UPDATE", [.text(site)]), on: connection)
            let merge = SiteMerge(
                deltas: deltas, storedContext: try await self.context(site, on: connection),
                storedAlarms: try await self.alarms(site, on: connection))
            for statement in merge.statements(site: site) { try await self.run(statement, on: connection) }
            return merge.summary
        }
    }

    public func summary(site: String) async throws -> ReplicaSummary {
        try await transaction("read the summary of site \(site)", snapshot: true) { connection in
            ReplicaSummary(
                context: try await self.context(site, on: connection),
                kernelDigest: try await self.alarms(site, on: connection).digest)
        }
    }

    public func batch(site: String, since peer: ReplicaSummary, maxEntries: Int) async throws -> SiteDelta? {
        try await transaction("read a batch of site \(site)", snapshot: true) { connection in
            let plan = SiteBatchPlan(
                peer: peer, maxEntries: maxEntries, context: try await self.context(site, on: connection),
                alarms: try await self.alarms(site, on: connection))
            if plan.peerLacksNothing { return nil }
            var rows: [(table: PartTable, rows: [SQLRow])] = []
            for query in plan.queries(site: site) {
                rows.append((query.table, try await self.rows(query.statement, table: query.table.name, on: connection)))
            }
            return try plan.batch(rows: rows)
        }
    }

    public func sites() async throws -> [String] {
        try await transaction("list the sites") { connection in
            try await self.rows(SQLStatement(BookkeepingSQL.selectSites), table: "site", on: connection).map { try $0.text(0) }.sorted()
        }
    }

    public func view(site: String) async throws -> SiteState {
        try await transaction("read site \(site)", snapshot: true) { connection in
            var parts = SiteParts()
            for table in PartTable.allCases where table != .raw {
                for row in try await self.rows(SQLStatement(table.selectSite, [.text(site)]), table: table.name, on: connection) {
                    try table.add(row, to: &parts)
                }
            }
            return parts.state(
                context: try await self.context(site, on: connection), alarms: try await self.alarms(site, on: connection))
        }
    }

    public func overview(site: String) async throws -> SiteOverview {
        try await transaction("read the overview of site \(site)", snapshot: true) { connection in
            let devices = try await self.rows(
                SQLStatement(SiteStateSQL.selectDevices, Array(repeating: .text(site), count: 3)), table: "device", on: connection)
            let online = try await self.rows(SQLStatement(SiteStateSQL.selectOnlineDevices, [.text(site)]), table: "presence", on: connection)
            return SiteOverview(
                context: try await self.context(site, on: connection), alarms: try await self.alarms(site, on: connection),
                devices: Set(try devices.map { try $0.text(0) }), online: Set(try online.map { try $0.text(0) }))
        }
    }

    public func telemetry(site: String) async throws -> [String: RawTelemetrySummary] {
        try await transaction("summarise the raw telemetry of site \(site)") { connection in
            try BookkeepingSQL.telemetry(
                await self.rows(SQLStatement(BookkeepingSQL.selectTelemetry, [.text(site)]), table: "raw_telemetry", on: connection))
        }
    }

    public func appendAudit(_ entries: [AuditEntry], site: String, node: String) async throws -> UInt64 {
        try await transaction("append to the audit chain of node \(node) of site \(site)") { connection in
            try await self.lock(["audit", site, node], on: connection)
            let head = try AuditSQL.anchor(
                await self.rows(SQLStatement(AuditSQL.selectHead, [.text(site), .text(node)]), table: "audit_entry", on: connection))
            let append = try AuditSQL.append(entries, after: head, site: site, node: node)
            for statement in append.statements { try await self.run(statement, on: connection) }
            return append.storedThrough
        }
    }

    public func audit(site: String) async throws -> [String: [AuditEntry]] {
        try await transaction("read the audit chains of site \(site)") { connection in
            try AuditSQL.entries(
                await self.rows(SQLStatement(AuditSQL.selectSite, [.text(site)]), table: "audit_entry", on: connection))
        }
    }

    public func addBatchPart(_ part: StoredBatchPart, site: String, node: String) async throws -> [StoredBatchPart]? {
        try await transaction("keep a batch part from node \(node) of site \(site)") { connection in
            // Two instances receiving the last two parts at once: the second waits here, then sees
            // the first's part, so exactly one of them returns the batch.
            try await self.lock(["batch", site, node, String(part.batchID)], on: connection)
            for statement in BookkeepingSQL.keep(part, site: site, node: node) { try await self.run(statement, on: connection) }
            let rows = try await self.rows(BookkeepingSQL.selectParts(of: part, site: site, node: node), table: "batch_part", on: connection)
            guard let parts = try BookkeepingSQL.completeBatch(rows, of: part) else { return nil }
            try await self.run(BookkeepingSQL.deleteBatch(of: part, site: site, node: node), on: connection)
            return parts
        }
    }

    public func recordContact(site: String, node: String, wallMilliseconds: UInt64) async throws {
        try await transaction("record a contact of node \(node) of site \(site)") { connection in
            try await self.run(SQLStatement(BookkeepingSQL.upsertContact, [.text(site), .text(node), .bits(wallMilliseconds)]), on: connection)
        }
    }

    public func recordSiteStatus(_ status: [UInt8], site: String, node: String, wallMilliseconds: UInt64) async throws {
        try await transaction("record the status of site \(site) from node \(node)") { connection in
            try await self.run(BookkeepingSQL.upsertSiteStatus(status, site: site, node: node, wallMilliseconds: wallMilliseconds), on: connection)
        }
    }

    public func siteStatus(site: String) async throws -> StoredSiteStatus? {
        try await transaction("read the status of site \(site)") { connection in
            try BookkeepingSQL.siteStatus(
                await self.rows(SQLStatement(BookkeepingSQL.selectSiteStatus, [.text(site)]), table: "site_status", on: connection))
        }
    }

    public func contacts(site: String) async throws -> [String: UInt64] {
        try await transaction("read the contacts of site \(site)") { connection in
            try BookkeepingSQL.contacts(
                await self.rows(SQLStatement(BookkeepingSQL.selectContacts, [.text(site)]), table: "contact", on: connection))
        }
    }

    public func close() async throws {
        let wasClosed = closed.withLock { closed in
            defer { closed = true }
            return closed
        }
        guard !wasClosed else { return }
        runTask.cancel()
        await runTask.value
    }

    /// Drops this store's schema and everything in it, then closes the store (tests use a fresh
    /// schema each).
    func dropSchema() async throws {
        try await transaction("drop schema \(schema)") { connection in
            try await self.run(SQLStatement("DROP SCHEMA IF EXISTS \"\(self.schema)\" CASCADE"), on: connection)
        }
        try await close()
    }

    // MARK: Private

    /// Connects once directly (the pool retries an unreachable server without end, so a lease
    /// would wait instead of failing) and creates the schema and tables in one transaction.
    private func createTables() async throws {
        let operation = "create the tables in schema \(schema)"
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.username, password: url.password, database: url.database,
            tls: .disable)
        configuration.options.connectTimeout = .seconds(10)
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        } catch {
            throw wrapped(error, operation)
        }
        do {
            try await connection.query("BEGIN", logger: logger).consume()
            // Several processes may start at once; CREATE … IF NOT EXISTS alone races on the catalog.
            try await lock(["schema"], on: connection)
            try await run(SQLStatement("CREATE SCHEMA IF NOT EXISTS \"\(schema)\""), on: connection)
            for statement in CloudSchema.statements { try await run(SQLStatement(statement), on: connection) }
            try await connection.query("COMMIT", logger: logger).consume()
            try await connection.close()
        } catch {
            try? await connection.close()
            throw wrapped(error, operation)
        }
    }

    /// Runs `body` in a transaction on one pooled connection; `snapshot` makes it one
    /// `REPEATABLE READ` read-only snapshot.
    private func transaction<T: Sendable>(
        _ operation: String, snapshot: Bool = false, _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        if closed.withLock({ $0 }) { throw CloudStoreError.closed("PostgreSQL") }
        do {
            return try await client.withConnection { connection in
                try await connection.query("BEGIN", logger: self.logger).consume()
                do {
                    if snapshot {
                        try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: self.logger).consume()
                    }
                    let result = try await body(connection)
                    try await connection.query("COMMIT", logger: self.logger).consume()
                    return result
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: self.logger).consume()
                    throw error
                }
            }
        } catch {
            throw wrapped(error, operation)
        }
    }

    /// A transaction-scoped advisory lock on `key` within this schema.
    private func lock(_ key: [String], on connection: PostgresConnection) async throws {
        var hasher = StableHasher()
        hasher.combine("fogline-cloud")
        hasher.combine(schema)
        for part in key { hasher.combine(part) }
        _ = try await rows(SQLStatement("SELECT pg_advisory_xact_lock(?)", [.integer(Int64(bitPattern: hasher.finalize()))]), on: connection)
    }

    private func run(_ statement: SQLStatement, on connection: PostgresConnection) async throws {
        try await connection.query(query(statement), logger: logger).consume()
    }

    private func rows(_ statement: SQLStatement, table: String = "query", on connection: PostgresConnection) async throws -> [SQLRow] {
        var rows: [SQLRow] = []
        for try await row in try await connection.query(query(statement), logger: logger) {
            rows.append(SQLRow(try row.map(SQLValue.init), table: table))
        }
        return rows
    }

    private func query(_ statement: SQLStatement) -> PostgresQuery {
        var binds = PostgresBindings(capacity: statement.arguments.count)
        for value in statement.arguments {
            switch value {
            case .null: binds.appendNull()
            case .integer(let int): binds.append(int)
            case .real(let double): binds.append(double)
            case .text(let text): binds.append(text)
            case .blob(let bytes): binds.append(ByteBuffer(bytes: bytes))
            }
        }
        return PostgresQuery(unsafeSQL: dialect.sql(statement.sql), binds: binds)
    }

    private func context(_ site: String, on connection: PostgresConnection) async throws -> CausalContext {
        try SiteStateSQL.context(
            vector: await rows(SQLStatement(SiteStateSQL.selectContextVector, [.text(site)]), table: "context_vector", on: connection),
            cloud: await rows(SQLStatement(SiteStateSQL.selectContextCloud, [.text(site)]), table: "context_cloud", on: connection))
    }

    private func alarms(_ site: String, on connection: PostgresConnection) async throws -> DotKernel<Alarm> {
        try SiteStateSQL.alarms(await rows(SQLStatement(SiteStateSQL.selectAlarms, [.text(site)]), table: "alarm", on: connection))
    }

    /// Our own errors pass through; PostgreSQL's become a sentence that says where and what to do.
    private func wrapped(_ error: any Error, _ operation: String) -> any Error {
        if error is CloudStoreError || error is AuditAppendError { return error }
        guard let error = error as? PSQLError else {
            return CloudStoreError(kind: .failed, description: "The cloud store could not \(operation) in PostgreSQL at \(url.endpoint) (\(error)).")
        }
        if let message = error.serverInfo?[.message] {
            let state = error.serverInfo?[.sqlState].map { " [SQLSTATE \($0)]" } ?? ""
            return CloudStoreError(
                kind: .failed,
                description: "PostgreSQL at \(url.endpoint) refused to \(operation): \(message)\(state). Check the role's "
                    + "password and privileges on the database and schema \(schema).")
        }
        let underlying = error.underlying.map { ": \($0)" } ?? ""
        return CloudStoreError(
            kind: .unavailable,
            description: "Cannot reach PostgreSQL at \(url.endpoint) to \(operation) (\(error.code)\(underlying)): is it "
                + "running, and does it accept TCP connections from this host?")
    }
}

extension PostgresRowSequence {
    /// Reads and drops every row, so the connection is ready for the next statement.
    fileprivate func consume() async throws {
        for try await _ in self {}
    }
}

extension SQLValue {
    fileprivate init(_ cell: PostgresCell) throws {
        guard cell.bytes != nil else {
            self = .null
            return
        }
        switch cell.dataType {
        case .int8, .int4, .int2: self = .integer(try cell.decode(Int64.self))
        case .float8, .float4: self = .real(try cell.decode(Double.self))
        case .text, .varchar, .name, .bpchar: self = .text(try cell.decode(String.self))
        case .bytea:
            var buffer = try cell.decode(ByteBuffer.self)
            self = .blob(buffer.readBytes(length: buffer.readableBytes) ?? [])
        case .void:
            self = .null
        default:
            throw CloudStoreError.unreadableRow(table: cell.columnName, detail: "unexpected column type \(cell.dataType)")
        }
    }
}
