@testable import FoglineCloud
import FoglineCore
import Logging
import Testing

@Suite("Cloud store internals")
struct CloudStoreUnitTests {
    @Test("one SQL template serves both dialects")
    func dialects() {
        let template = "INSERT INTO @t AS x (a, b) VALUES (?, ?) -- {int} {real} {blob} {table}"
        #expect(SQLDialect.sqlite.sql(template) == "INSERT INTO t AS x (a, b) VALUES (?, ?) -- INTEGER REAL BLOB STRICT, WITHOUT ROWID")
        #expect(
            SQLDialect.postgres(schema: "t_1").sql(template)
                == "INSERT INTO \"t_1\".t AS x (a, b) VALUES ($1, $2) -- BIGINT DOUBLE PRECISION BYTEA ")
        // Translations are remembered per dialect and schema: another schema gets its own.
        #expect(SQLDialect.postgres(schema: "t_2").sql(template).hasPrefix("INSERT INTO \"t_2\".t"))
        #expect(SQLDialect.isPlainIdentifier("t_abc123"))
        #expect(!SQLDialect.isPlainIdentifier("1abc"))
        #expect(!SQLDialect.isPlainIdentifier("a\"b"))
        #expect(!SQLDialect.isPlainIdentifier(""))
    }

    @Test("an upsert of many rows is cut into full statements, then powers of two, every value once and in order")
    func upsertChunks() {
        let upsert = SQLUpsert(table: "t", columns: ["a", "b"], onConflict: "ON CONFLICT (a) DO NOTHING")
        let perStatement = SQLUpsert.rowsPerStatement
        #expect(upsert.statements([[.integer(1), .text("x")], [.integer(2), .text("y")]]).map(\.sql) == [
            "INSERT INTO @t AS t (a, b) VALUES (?, ?), (?, ?) ON CONFLICT (a) DO NOTHING",
        ])
        for count in [0, 1, 7, perStatement, perStatement + 1, 2 * perStatement + 99] {
            let rows = (0..<count).map { [SQLValue.integer(Int64($0)), .text("v\($0)")] }
            let statements = upsert.statements(rows)
            let sizes = statements.map { $0.arguments.count / 2 }
            #expect(sizes.allSatisfy(SQLUpsert.statementSizes.contains), "\(count) rows: \(sizes)")
            #expect(sizes == sizes.sorted(by: >), "\(count) rows: the largest statements first")
            #expect(sizes.filter { $0 == perStatement }.count == count / perStatement, "\(count) rows: \(sizes)")
            #expect(statements.flatMap(\.arguments) == rows.flatMap { $0 }, "\(count) rows: every value once, in order")
            for statement in statements {
                let placeholders = statement.sql.filter { $0 == "?" }.count
                #expect(placeholders == statement.arguments.count, "\(count) rows: one placeholder per value")
            }
        }
        // However many rows, a table has at most one text per statement size.
        let texts = Set((0...(3 * perStatement)).flatMap { count in
            upsert.statements((0..<count).map { [SQLValue.integer(Int64($0)), .null] }).map(\.sql)
        })
        #expect(texts.count == SQLUpsert.statementSizes.count)
    }

    @Test("PostgreSQL URLs parse, and unusable ones say how to write them")
    func urls() throws {
        let url = try PostgresURL("postgres://fogline:p%40ss@127.0.0.1:55432/fogline")
        #expect(url == PostgresURL(host: "127.0.0.1", port: 55432, username: "fogline", password: "p@ss", database: "fogline"))
        let plain = try PostgresURL("postgresql://me@db.example")
        #expect(plain.port == 5432 && plain.password == nil && plain.database == nil)
        for bad in ["mysql://a@b/c", "postgres:///db", "postgres://host/db", "postgres://a@b/c?sslmode=require"] {
            #expect(throws: CloudStoreError.self, "\(bad)") { try PostgresURL(bad) }
        }
    }

}

@Suite("Cloud store errors")
struct CloudStoreErrorTests {
    @Test("a PostgreSQL that is not running is named, with what to check")
    func unreachablePostgres() async throws {
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        do {
            let store = try await PostgresCloudStore(
                url: "postgres://fogline:secret@127.0.0.1:1/fogline", logger: Logger(label: "fogline.test.cloudstore"))
            try await store.close()
            Issue.record("opened a store on a port where nothing listens")
        } catch let error as CloudStoreError {
            #expect(error.kind == .unavailable)
            #expect(error.description.contains("Cannot reach PostgreSQL at 127.0.0.1:1/fogline"), "\(error)")
            #expect(error.description.contains("is it running"), "\(error)")
            #expect(!error.description.contains("secret"))
        }
    }

    @Test("an SQLite path in a missing directory says what to check")
    func unopenableSQLite() {
        #expect {
            _ = try SQLiteCloudStore(path: "/nonexistent-fogline-dir/cloud.sqlite")
        } throws: { error in
            "\(error)".contains("Check that its directory exists")
        }
    }
}
