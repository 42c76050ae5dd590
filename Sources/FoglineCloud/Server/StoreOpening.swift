public import Logging

extension CloudConfiguration {
    /// Opens the store `database` names: ``SQLiteCloudStore`` for `sqlite:PATH`,
    /// ``PostgresCloudStore`` (in ``postgresSchema``) for `postgres://…`.
    public func openStore(logger: Logger) async throws -> any CloudStore {
        switch database {
        case .sqlite(let path):
            return try SQLiteCloudStore(path: path)
        case .postgres(let url):
            return try await PostgresCloudStore(url: url, schema: postgresSchema, logger: logger)
        }
    }
}
