import FoglineCore
import FoglineStore
import Foundation
import GRDB
import Testing

@Suite("Opening, migrations and pragmas")
struct SchemaTests {
    @Test("an empty file is migrated, and reopening it keeps the data")
    func migratesAndReopens() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("edge.sqlite")
        do {
            let store = try EdgeStore(path: path)
            #expect(try store.loadSiteState() == SiteState())
            #expect(try store.loadHLCBound() == nil)
            try store.commit(StoreBatch(hlcBound: 42))
            try store.close()
        }
        let reopened = try EdgeStore(path: path)
        #expect(try reopened.loadHLCBound() == 42)
        #expect(try reopened.integrityCheck() == "ok")
        let migrations = try DatabaseQueue(path: path).read { db in
            try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
        }
        #expect(migrations == [
            "v1-edge-bookkeeping", "v1-site-state", "v2-raw-telemetry-epoch", "v3-telemetry-journal", "v4-dot-indexes",
            "v5-raw-chunks", "v6-rollup-by-window", "v7-journal-segments",
        ])
    }

    @Test("the database is in WAL mode with synchronous=NORMAL and foreign keys on")
    func walMode() throws {
        let (store, directory) = try EdgeStore.temporary()
        #expect(
            try store.connectionSettings()
                == .init(journalMode: "wal", synchronous: "NORMAL", foreignKeys: true, checkpointPages: 32_768))
        try store.commit(StoreBatch(hlcBound: 1))
        #expect(FileManager.default.fileExists(atPath: directory.file("edge.sqlite-wal")))
        // An independent connection sees WAL in the file header (journal_mode is persistent).
        let (journalMode, version) = try DatabaseQueue(path: directory.file("edge.sqlite")).read { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try String.fetchOne(db, sql: "SELECT sqlite_version()"))
        }
        #expect(journalMode == "wal")
        #expect(version.map { $0.compare("3.40", options: .numeric) != .orderedAscending } == true, "row values in upserts need 3.40")
        #expect(try store.integrityCheck() == "ok")
    }

    @Test("synchronous=FULL when configured; a batch that asks for it is committed the same way")
    func fullSynchronous() throws {
        let directory = try TemporaryDirectory()
        let durable = try EdgeStore(path: directory.file("full.sqlite"), configuration: .init(synchronous: .full))
        #expect(try durable.connectionSettings().synchronous == "FULL")
        let store = try EdgeStore(path: directory.file("normal.sqlite"))
        try store.commit(StoreBatch(hlcBound: 9, syncToDisk: true))
        #expect(try store.loadHLCBound() == 9)
        #expect(try store.connectionSettings().synchronous == "NORMAL")  // restored after the batch
    }

    @Test("a missing directory is reported with the path and what to do")
    func missingDirectory() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("no/such/dir/edge.sqlite")
        let error = #expect(throws: StoreError.self) { try EdgeStore(path: path) }
        #expect(error?.kind == .cannotOpen)
        #expect(error?.description.contains(path) == true)
        #expect(error?.description.contains("does not exist") == true)
        #expect(error?.description.contains("--data") == true)
    }

    @Test("a file that is not a database is refused")
    func notADatabase() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("edge.sqlite")
        try Data(repeating: 0x5A, count: 4096).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: StoreError.self) { try EdgeStore(path: path) }
        #expect(error?.kind == .notADatabase)
        #expect(error?.description.contains(path) == true)
    }

    @Test("a database migrated by a newer Fogline is refused, not modified")
    func newerSchema() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("edge.sqlite")
        try EdgeStore(path: path).close()
        try DatabaseQueue(path: path).write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v9-from-the-future')")
        }
        let error = #expect(throws: StoreError.self) { try EdgeStore(path: path) }
        #expect(error?.kind == .newerSchema)
        #expect(error?.description.contains("v9-from-the-future") == true)
    }
}
