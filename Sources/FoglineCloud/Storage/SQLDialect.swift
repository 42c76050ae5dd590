import Foundation
import Synchronization

/// The two SQL dialects the cloud store speaks. Statements are written once, in a template form
/// both backends share, and translated here:
///
/// - `@name` is a table: `name` in SQLite, `"schema".name` in PostgreSQL;
/// - `?` is the next parameter: kept in SQLite, `$1`, `$2`, … in PostgreSQL;
/// - in DDL, `{int}`, `{real}` and `{blob}` are the column types (`INTEGER`, `REAL`, `BLOB` in
///   SQLite; `BIGINT`, `DOUBLE PRECISION`, `BYTEA` in PostgreSQL) and `{table}` the table options
///   (`STRICT, WITHOUT ROWID` in SQLite, none in PostgreSQL).
///
/// Templates never contain `@` or `?` inside string literals.
enum SQLDialect: Sendable, Hashable {
    case sqlite
    /// The schema name, already checked to be a plain identifier.
    case postgres(schema: String)

    /// The statement `template` in this dialect. Translations are remembered: a merge runs the
    /// same few templates thousands of times, and translating each time was most of the
    /// aggregator's CPU time while it caught up with a site.
    func sql(_ template: String) -> String {
        let key = TranslationKey(dialect: self, template: template)
        if let known = Self.translations.withLock({ $0[key] }) { return known }
        let translated = translate(template)
        // Templates are a fixed set; the bound only guards against a caller building them.
        Self.translations.withLock { if $0.count < Self.maxTranslations { $0[key] = translated } }
        return translated
    }

    private struct TranslationKey: Hashable {
        var dialect: SQLDialect
        var template: String
    }

    private static let translations = Mutex<[TranslationKey: String]>([:])
    private static let maxTranslations = 1_024

    private func translate(_ template: String) -> String {
        var result = ""
        result.reserveCapacity(template.utf8.count + 32)
        var parameter = 0
        for character in template {
            switch character {
            case "@":
                if case .postgres(let schema) = self { result += "\"\(schema)\"." }
            case "?":
                if case .postgres = self {
                    parameter += 1
                    result += "$\(parameter)"
                } else {
                    result.append("?")
                }
            default:
                result.append(character)
            }
        }
        switch self {
        case .sqlite:
            return result.replacingTokens([
                ("{int}", "INTEGER"), ("{real}", "REAL"), ("{blob}", "BLOB"), ("{table}", "STRICT, WITHOUT ROWID"),
            ])
        case .postgres:
            return result.replacingTokens([
                ("{int}", "BIGINT"), ("{real}", "DOUBLE PRECISION"), ("{blob}", "BYTEA"), ("{table}", ""),
            ])
        }
    }

    /// `true` when `name` can be used as a PostgreSQL schema name without quoting surprises.
    static func isPlainIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.unicodeScalars.count <= 63 else { return false }
        func isLetter(_ scalar: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || scalar == "_"
        }
        return isLetter(first) && name.unicodeScalars.allSatisfy { isLetter($0) || ("0"..."9").contains($0) }
    }
}

extension String {
    fileprivate func replacingTokens(_ tokens: [(String, String)]) -> String {
        guard contains("{") else { return self }
        var result = self
        for (token, replacement) in tokens { result = result.replacingOccurrences(of: token, with: replacement) }
        return result
    }
}
