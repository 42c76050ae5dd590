import Foundation
public import FoglineCore
import FoglineWire
import GRDB

/// What an edge node's quorum participation must not forget: the acceptor's promises and
/// accepted values, the node's incarnation counter and its hash-chained audit log.
///
/// A separate database file from ``EdgeStore`` because its durability rule differs: an acceptor
/// must not reply before its record is on disk (a forgotten promise breaks Paxos even across a
/// power cut), so every commit here is fsynced (`synchronous=FULL`), while telemetry batches
/// fsync only at checkpoints. Writes here are small; the quorum service group-commits them (one
/// transaction for every input it handled while the previous one was being written).
public final class QuorumStore: Sendable {
    public let path: String
    private let queue: DatabaseQueue

    /// Opens (or creates) the database at `path`; the directory must exist.
    public init(path: String) throws {
        self.path = path
        var options = GRDB.Configuration()
        options.label = "FoglineQuorumStore"
        options.journalMode = .wal
        // Small pages: a record is tens of bytes and every commit rewrites the pages it touches.
        // (Only a new database takes it, before WAL mode is entered.)
        options.prepareDatabase { db in try db.execute(sql: "PRAGMA page_size = 1024") }
        do {
            queue = try DatabaseQueue(path: path, configuration: options)
            try queue.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
                // The acceptor records are a few hundred rows: 256 KiB of page cache holds them
                // (SQLite's default is 2 MB per connection).
                try db.execute(sql: "PRAGMA cache_size = -256")
            }
            try Self.migrator.migrate(queue)
        } catch {
            throw StoreError.wrapping(error, path: path, operation: "open the quorum database")
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-quorum") { db in
            try db.execute(
                sql: """
                    -- One CASPaxos acceptor record per key (QuorumCodec.encode).
                    CREATE TABLE acceptor (key TEXT NOT NULL PRIMARY KEY, record BLOB NOT NULL) STRICT, WITHOUT ROWID;
                    -- Restart counter: proposer operation ids must never repeat.
                    CREATE TABLE node_meta (name TEXT NOT NULL PRIMARY KEY, value INTEGER NOT NULL) STRICT;
                    -- The node's hash-chained audit log of decisions (FoglineCore.AuditChain).
                    CREATE TABLE audit (
                        idx INTEGER NOT NULL PRIMARY KEY,
                        node TEXT NOT NULL,
                        logical INTEGER NOT NULL,
                        writer INTEGER NOT NULL,
                        kind TEXT NOT NULL,
                        key TEXT NOT NULL,
                        detail TEXT NOT NULL,
                        previous_hash BLOB NOT NULL,
                        hash BLOB NOT NULL
                    ) STRICT;
                    """)
        }
        return migrator
    }

    public func close() throws {
        do { try queue.close() } catch { throw StoreError.wrapping(error, path: path, operation: "close") }
    }

    // MARK: Acceptor

    public func acceptorRecords() throws -> [String: Acceptor.Record] {
        do {
            return try queue.read { db in
                var records: [String: Acceptor.Record] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT key, record FROM acceptor") {
                    let key: String = row[0]
                    let bytes: Data = row[1]
                    records[key] = try QuorumCodec.decodeAcceptorRecord(Array(bytes))
                }
                return records
            }
        } catch {
            throw StoreError.wrapping(error, path: path, operation: "read acceptor records")
        }
    }

    /// Writes acceptor records durably (fsynced) in one transaction; returns once they are on
    /// disk, so the replies that depend on them may be sent.
    public func saveAcceptorRecords(_ records: [(key: String, record: Acceptor.Record)]) throws {
        guard !records.isEmpty else { return }
        do {
            try queue.write { db in try Self.insert(records, into: db) }
        } catch {
            throw StoreError.wrapping(error, path: path, operation: "save acceptor records")
        }
    }

    /// One group commit: every acceptor record and audit entry of a batch of inputs in a single
    /// fsynced transaction, so a batch costs one fsync however many operations it serves.
    ///
    /// Throws when the records could not be written (nothing was). The audit entries ride in a
    /// savepoint of their own: if only they fail, the records are still committed (the quorum
    /// must not stop over its log) and the audit error is returned for the caller to report.
    public func commit(
        acceptorRecords records: [(key: String, record: Acceptor.Record)], auditEntries entries: [AuditEntry]
    ) throws -> StoreError? {
        guard !records.isEmpty || !entries.isEmpty else { return nil }
        do {
            return try queue.write { db -> StoreError? in
                try Self.insert(records, into: db)
                guard !entries.isEmpty else { return nil }
                do {
                    try db.inSavepoint {
                        try Self.insert(entries, into: db)
                        return .commit
                    }
                    return nil
                } catch {
                    return StoreError.wrapping(error, path: path, operation: "append to the audit log")
                }
            }
        } catch {
            throw StoreError.wrapping(error, path: path, operation: "save acceptor records")
        }
    }

    private static func insert(_ records: [(key: String, record: Acceptor.Record)], into db: Database) throws {
        // A cached statement: parsing the SQL again for every record was a tenth of a busy
        // node's CPU time.
        let statement = try db.cachedStatement(
            sql: "INSERT INTO acceptor (key, record) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET record = excluded.record")
        for (key, record) in records {
            try statement.execute(arguments: [key, Data(QuorumCodec.encode(record))])
        }
    }

    // MARK: Incarnation

    /// Increments and returns the node's incarnation (1 on the first start).
    public func nextIncarnation() throws -> UInt64 {
        do {
            return try queue.write { db in
                let current = try Int64.fetchOne(db, sql: "SELECT value FROM node_meta WHERE name = 'incarnation'") ?? 0
                try db.execute(
                    sql: "INSERT INTO node_meta (name, value) VALUES ('incarnation', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    arguments: [current + 1])
                return UInt64(current + 1)
            }
        } catch {
            throw StoreError.wrapping(error, path: path, operation: "count the node's restarts")
        }
    }

    // MARK: Audit

    public func appendAudit(_ entries: [AuditEntry]) throws {
        guard !entries.isEmpty else { return }
        do {
            try queue.write { db in try Self.insert(entries, into: db) }
        } catch {
            throw StoreError.wrapping(error, path: path, operation: "append to the audit log")
        }
    }

    private static func insert(_ entries: [AuditEntry], into db: Database) throws {
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO audit (idx, node, logical, writer, kind, key, detail, previous_hash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for entry in entries {
            try statement.execute(
                arguments: [
                    StoredInteger.bits(entry.index), entry.node, StoredInteger.sortable(entry.timestamp.logical),
                    StoredInteger.bits(entry.timestamp.node.rawValue), entry.kind, entry.key, entry.detail,
                    Data(entry.previousHash.bytes), Data(entry.hash.bytes),
                ])
        }
    }

    /// Up to `limit` audit entries after index `after`, in order.
    public func auditEntries(after: UInt64 = 0, limit: Int = .max) throws -> [AuditEntry] {
        do {
            return try queue.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT idx, node, logical, writer, kind, key, detail, previous_hash, hash FROM audit WHERE idx > ? ORDER BY idx LIMIT ?",
                    arguments: [StoredInteger.bits(after), limit]
                ).map { row in
                    let previous: Data = row[7]
                    let hash: Data = row[8]
                    guard let previousHash = AuditHash(bytes: Array(previous)), let entryHash = AuditHash(bytes: Array(hash)) else {
                        throw StoreError(kind: .corrupt, path: path, operation: "read the audit log", underlying: "a hash is not 32 bytes")
                    }
                    let logical: Int64 = row[2]
                    let writer: Int64 = row[3]
                    let index: Int64 = row[0]
                    return AuditEntry(
                        index: StoredInteger.fromBits(index), node: row[1],
                        timestamp: HLCTimestamp(logical: StoredInteger.fromSortable(logical), node: NodeID(rawValue: StoredInteger.fromBits(writer))),
                        kind: row[4], key: row[5], detail: row[6], previousHash: previousHash, hash: entryHash)
                }
            }
        } catch {
            throw StoreError.wrapping(error, path: path, operation: "read the audit log")
        }
    }

    /// Where the chain continues: after its last entry, or the genesis anchor.
    public func auditHead() throws -> AuditChain.Anchor {
        let last = try queue.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(idx) FROM audit") }
        guard let last, let entry = try auditEntries(after: StoredInteger.fromBits(last) - 1, limit: 1).first else { return .genesis }
        return AuditChain.Anchor(after: entry)
    }
}
