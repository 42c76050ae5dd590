@testable import FoglineCloud
import Foundation
import Logging

/// Where a contract test's store keeps its data; ``open()`` may be called more than once to get a
/// second store on the same data (another "process").
protocol CloudStoreFixture: Sendable {
    var name: String { get }
    func open() async throws -> any CloudStore
    /// Removes the data (called once, after every store is closed).
    func destroy() async
}

/// A fresh SQLite file in its own temporary directory.
struct SQLiteFixture: CloudStoreFixture {
    let directory: URL
    var name: String { "SQLite" }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fogline-cloudstore-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func open() async throws -> any CloudStore {
        try SQLiteCloudStore(path: directory.appendingPathComponent("cloud.sqlite").path)
    }

    func destroy() async {
        try? FileManager.default.removeItem(at: directory)
    }
}

/// A fresh schema `t_<random>` in the database of `FOGLINE_TEST_POSTGRES_URL`, dropped afterwards.
struct PostgresFixture: CloudStoreFixture {
    /// The test database, or `nil` when PostgreSQL tests are not configured (`.ci/run` sets it).
    static let url: String? = ProcessInfo.processInfo.environment["FOGLINE_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }

    let url: String
    let schema: String
    var name: String { "PostgreSQL" }

    init() throws {
        guard let url = Self.url else { throw FixtureUnavailable() }
        self.url = url
        schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }

    func open() async throws -> any CloudStore {
        try await PostgresCloudStore(url: url, schema: schema, logger: Logger(label: "fogline.test.cloudstore"))
    }

    func destroy() async {
        do {
            let store = try await PostgresCloudStore(url: url, schema: schema, logger: Logger(label: "fogline.test.cloudstore"))
            try await store.dropSchema()
        } catch {
            print("could not drop test schema \(schema): \(error)")
        }
    }

    struct FixtureUnavailable: Error, CustomStringConvertible {
        var description: String { "FOGLINE_TEST_POSTGRES_URL is not set" }
    }
}

/// Opens a store on `fixture`, runs `body`, then closes it and removes the data, also when `body` throws.
func withStore<T>(_ fixture: some CloudStoreFixture, _ body: (any CloudStore) async throws -> T) async throws -> T {
    let store = try await fixture.open()
    do {
        let result = try await body(store)
        try await store.close()
        await fixture.destroy()
        return result
    } catch {
        try? await store.close()
        await fixture.destroy()
        throw error
    }
}
