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

    /// `INSERT INTO @table AS t (columns) VALUES`
    let insert: String
    /// `ON CONFLICT (key) DO UPDATE SET … WHERE …`
    let onConflict: String
    let columnCount: Int
    /// The template of a full statement, built once.
    private var fullTemplate = ""

    init(table: String, columns: [String], onConflict: String) {
        insert = "INSERT INTO @\(table) AS t (\(columns.joined(separator: ", "))) VALUES "
        self.onConflict = onConflict
        columnCount = columns.count
        fullTemplate = template(rows: Self.rowsPerStatement)
    }

    /// The statements that upsert `rows` (each `columnCount` values, in column order).
    func statements(_ rows: [[SQLValue]]) -> [SQLStatement] {
        var statements: [SQLStatement] = []
        var start = 0
        while start < rows.count {
            let chunk = rows[start..<min(start + Self.rowsPerStatement, rows.count)]
            var arguments: [SQLValue] = []
            arguments.reserveCapacity(chunk.count * columnCount)
            for row in chunk {
                precondition(row.count == columnCount, "an upsert row has \(row.count) values for \(columnCount) columns")
                arguments += row
            }
            statements.append(SQLStatement(chunk.count == Self.rowsPerStatement ? fullTemplate : template(rows: chunk.count), arguments))
            start += chunk.count
        }
        return statements
    }

    /// The template for `rows` rows. Full chunks all share one text, so the dialect's and the
    /// backends' statement caches see few texts per table.
    func template(rows: Int) -> String {
        let row = "(" + Array(repeating: "?", count: columnCount).joined(separator: ", ") + ")"
        return insert + Array(repeating: row, count: rows).joined(separator: ", ") + " " + onConflict
    }
}
