public import Logging

extension CloudConfiguration {
    /// Opens the store `database` names (`sqlite:PATH` or `postgres://…`).
    public func openStore(logger: Logger) async throws -> any CloudStore {
        switch database {
        case .sqlite(let path):
            throw StoreUnavailable(description: "the SQLite store (sqlite:\(path)) is not built into this binary yet")
        case .postgres:
            throw StoreUnavailable(description: "the PostgreSQL store is not built into this binary yet")
        }
    }
}

struct StoreUnavailable: Error, CustomStringConvertible {
    var description: String
}
