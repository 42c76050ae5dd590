/// An `INSERT … ON CONFLICT DO UPDATE` of many rows at once, in the shared template form (see
/// ``SQLDialect``): rows go in statements of up to ``rowsPerStatement`` rows each, so a merge of
/// thousands of entries runs a few dozen statements instead of thousands (each statement costs a
/// lookup and a bind pass in SQLite and a round trip in PostgreSQL).
///
/// One statement must not name a key twice (PostgreSQL refuses to update a row twice in one
/// statement): callers pass the entries of one CRDT part, whose keys are unique.
struct SQLUpsert: Sendable {
    /// Rows per statement: 100 rows of the widest table (12 columns) bind 1,200 parameters, well
    /// under both backends' limits (SQLite 32,766, PostgreSQL 65,535).
    static let rowsPerStatement = 100

    /// The statement sizes: full statements, and what is left cut into powers of two, so each
    /// table has a handful of statement texts. The dialect's translations and SQLite's prepared
    /// statements are cached per text; one text per remainder size would fill those caches.
    static let statementSizes = [rowsPerStatement] + [64, 32, 16, 8, 4, 2, 1].filter { $0 < rowsPerStatement }

    let columnCount: Int
    /// The statement text for each of ``statementSizes``.
    private let templates: [Int: String]

    init(table: String, columns: [String], onConflict: String) {
        let insert = "INSERT INTO @\(table) AS t (\(columns.joined(separator: ", "))) VALUES "
        let row = "(" + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
        columnCount = columns.count
        templates = Dictionary(uniqueKeysWithValues: Self.statementSizes.map { size in
            (size, insert + Array(repeating: row, count: size).joined(separator: ", ") + " " + onConflict)
        })
    }

    /// The statements that upsert `rows` (each `columnCount` values, in column order).
    func statements(_ rows: [[SQLValue]]) -> [SQLStatement] {
        var statements: [SQLStatement] = []
        var start = 0
        while start < rows.count {
            let size = Self.statementSizes.first { $0 <= rows.count - start }!
            var arguments: [SQLValue] = []
            arguments.reserveCapacity(size * columnCount)
            for row in rows[start..<start + size] {
                precondition(row.count == columnCount, "an upsert row has \(row.count) values for \(columnCount) columns")
                arguments += row
            }
            statements.append(SQLStatement(templates[size]!, arguments))
            start += size
        }
        return statements
    }
}
