import FoglineStore
/// One value as both storage backends bind and read it: the handful of column types the cloud
/// schema uses (``CloudSchema``). SQLite reads them as its storage classes, PostgreSQL as
/// `BIGINT`, `DOUBLE PRECISION`, `TEXT` and `BYTEA`.
enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// One SQL statement in the shared template form (see ``SQLDialect/sql(_:)``) with its arguments.
struct SQLStatement: Sendable {
    var sql: String
    var arguments: [SQLValue]

    init(_ sql: String, _ arguments: [SQLValue] = []) {
        self.sql = sql
        self.arguments = arguments
    }
}

/// One result row, read by column index. Every accessor throws ``CloudStoreError`` naming the
/// table when the stored value does not have the expected type (a row edited by hand, a damaged
/// file), never crashes.
struct SQLRow: Sendable {
    var values: [SQLValue]
    /// The table (or query) the row came from, for error messages.
    var table: String

    init(_ values: [SQLValue], table: String) {
        self.values = values
        self.table = table
    }

    func value(_ index: Int) throws -> SQLValue {
        guard index < values.count else { throw unreadable("it has no column \(index)") }
        return values[index]
    }

    func int(_ index: Int) throws -> Int64 {
        guard case .integer(let value) = try value(index) else { throw unreadable("column \(index) is not an integer") }
        return value
    }

    func optionalInt(_ index: Int) throws -> Int64? {
        if case .null = try value(index) { return nil }
        return try int(index)
    }

    /// A `REAL` column where `NULL` stands for NaN (SQLite cannot store NaN; PostgreSQL follows suit).
    func real(_ index: Int) throws -> Double {
        switch try value(index) {
        case .null: return .nan
        case .real(let value): return value
        case .integer(let value): return Double(value)
        default: throw unreadable("column \(index) is not a number")
        }
    }

    func optionalReal(_ index: Int) throws -> Double? {
        if case .null = try value(index) { return nil }
        return try real(index)
    }

    func text(_ index: Int) throws -> String {
        guard case .text(let value) = try value(index) else { throw unreadable("column \(index) is not text") }
        return value
    }

    func optionalText(_ index: Int) throws -> String? {
        if case .null = try value(index) { return nil }
        return try text(index)
    }

    func blob(_ index: Int) throws -> [UInt8] {
        switch try value(index) {
        case .blob(let bytes): return bytes
        default: throw unreadable("column \(index) is not a blob")
        }
    }

    /// An unsigned value kept with the order-preserving encoding (``StoredInteger/sortable(_:)``).
    func sortable(_ index: Int) throws -> UInt64 { StoredInteger.fromSortable(try int(index)) }

    /// An unsigned value kept as its bit pattern (``StoredInteger/bits(_:)``).
    func bits(_ index: Int) throws -> UInt64 { StoredInteger.fromBits(try int(index)) }

    func unreadable(_ detail: String) -> CloudStoreError {
        CloudStoreError.unreadableRow(table: table, detail: detail)
    }
}

extension SQLValue {
    static func sortable(_ value: UInt64) -> SQLValue { .integer(StoredInteger.sortable(value)) }
    static func bits(_ value: UInt64) -> SQLValue { .integer(StoredInteger.bits(value)) }
    /// A Double for a nullable `REAL` column: NaN is written as `NULL` and read back as NaN.
    static func number(_ value: Double) -> SQLValue { value.isNaN ? .null : .real(value) }
    static func flag(_ value: Bool) -> SQLValue { .integer(value ? 1 : 0) }
}
