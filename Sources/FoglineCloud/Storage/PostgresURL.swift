import Foundation

/// A `postgres://user:password@host:port/database` URL, parsed.
struct PostgresURL: Sendable, Equatable {
    var host: String
    var port: Int
    var username: String
    var password: String?
    var database: String?

    /// Where the URL points, without the password, for messages.
    var endpoint: String { "\(host):\(port)" + (database.map { "/\($0)" } ?? "") }

    init(host: String, port: Int, username: String, password: String?, database: String?) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// Parses `postgres://` and `postgresql://` URLs. User and password may be percent-encoded.
    /// Only `sslmode=disable` (or no `sslmode`) is accepted: the store connects without TLS.
    init(_ text: String) throws {
        func invalid(_ why: String) -> CloudStoreError {
            CloudStoreError(
                kind: .invalidConfiguration,
                description: "The PostgreSQL URL is not usable: \(why). Write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE.")
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw invalid("it does not parse as a URL")
        }
        guard scheme == "postgres" || scheme == "postgresql" else { throw invalid("its scheme is \(scheme), not postgres") }
        guard let host = components.host, !host.isEmpty else { throw invalid("it names no host") }
        guard let user = components.user, !user.isEmpty else { throw invalid("it names no user") }
        for item in components.queryItems ?? [] where item.name == "sslmode" && item.value != "disable" {
            throw invalid("sslmode=\(item.value ?? "") is not supported (the store connects without TLS; use sslmode=disable)")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.username = user
        self.password = components.password
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        self.database = path.isEmpty ? nil : path
    }
}
