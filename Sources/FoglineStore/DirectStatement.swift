package import GRDB
import GRDBSQLite

/// Runs a cached GRDB statement with its values bound through the SQLite C API.
///
/// GRDB's `execute(arguments:)` boxes every value into a `DatabaseValue` of a
/// `StatementArguments` array; on the telemetry path (about ten values per row, over a thousand
/// rows per commit) that boxing cost more than SQLite's own work (about 25% of commit time in a
/// profile). Here values are bound in place, and GRDB still performs the step (`execute()`), so
/// its error reporting and bookkeeping are unchanged.
///
/// `GRDBSQLite` is GRDB's own SQLite module (a product of the GRDB package), so this adds no
/// dependency beyond GRDB. The aggregator's SQLite store binds through it too (`package`).
package struct DirectStatement {
    /// The GRDB statement, to step it (a cursor) once bound.
    package let statement: Statement
    private let handle: SQLiteStatement

    package init(_ statement: Statement) {
        self.statement = statement
        self.handle = statement.sqliteStatement
        // Should a step that failed in an earlier (rolled back) commit have left its error pending
        // on the statement, consume it: GRDB's setUncheckedArguments resets with `try!`.
        sqlite3_reset(handle)
        // Marks the arguments as set, so `execute()` only resets and steps (we bind ourselves).
        statement.setUncheckedArguments([])
    }

    /// Binds the values `bind` supplies, in parameter order, then runs the statement once.
    package func execute(_ bind: (inout Binder) -> Void) throws {
        try self.bind(bind)
        try statement.execute()
    }

    /// Binds the values `bind` supplies, in parameter order, leaving the statement ready for GRDB
    /// to step without arguments (`execute()`, or a cursor fetched with no arguments).
    package func bind(_ bind: (inout Binder) -> Void) throws {
        // Binding requires a reset statement (a bind to a stepped one fails with SQLITE_MISUSE and
        // the row would be written with the previous values). A reset error belongs to the
        // previous step, which GRDB already reported.
        sqlite3_reset(handle)
        var binder = Binder(handle: handle)
        bind(&binder)
        guard binder.failure == SQLITE_OK else {
            throw DatabaseError(
                resultCode: ResultCode(rawValue: binder.failure),
                message: "binding parameter \(binder.failedIndex) failed", sql: statement.sql)
        }
    }

    /// Binds parameters 1, 2, 3, … in call order, remembering the first failure.
    package struct Binder {
        private let handle: SQLiteStatement
        private var index: Int32 = 1
        private(set) var failure = SQLITE_OK
        private(set) var failedIndex: Int32 = 0

        init(handle: SQLiteStatement) { self.handle = handle }

        package mutating func null() {
            record(sqlite3_bind_null(handle, index))
        }

        package mutating func int(_ value: Int64) {
            record(sqlite3_bind_int64(handle, index, value))
        }

        package mutating func int(_ value: Int64?) {
            if let value { int(value) } else { null() }
        }

        /// A nullable `REAL` column: NaN is bound as `NULL` (see `storedReal(_:)`).
        package mutating func real(_ value: Double) {
            if value.isNaN { null() } else { record(sqlite3_bind_double(handle, index, value)) }
        }

        package mutating func text(_ value: String) {
            var value = value
            let code = value.withUTF8 { utf8 in
                utf8.withMemoryRebound(to: CChar.self) { chars in
                    if let start = chars.baseAddress {
                        sqlite3_bind_text(handle, index, start, Int32(chars.count), transient)
                    } else {
                        sqlite3_bind_text(handle, index, "", 0, transient)
                    }
                }
            }
            record(code)
        }

        package mutating func blob(_ bytes: UnsafeRawBufferPointer) {
            // SQLite stores a NULL pointer as NULL, not as an empty blob: pass any non-null one.
            let code = withUnsafePointer(to: 0) { empty in
                sqlite3_bind_blob(handle, index, bytes.baseAddress ?? UnsafeRawPointer(empty), Int32(bytes.count), transient)
            }
            record(code)
        }

        private mutating func record(_ code: Int32) {
            if code != SQLITE_OK && failure == SQLITE_OK {
                failure = code
                failedIndex = index
            }
            index += 1
        }
    }
}

/// `SQLITE_TRANSIENT`: SQLite copies the value before the bind call returns.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
