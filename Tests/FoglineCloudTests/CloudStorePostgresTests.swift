import Testing

/// The ``CloudStoreContract`` on ``PostgresCloudStore``, each test in a fresh schema of the
/// database named by `FOGLINE_TEST_POSTGRES_URL` (`.ci/run` starts PostgreSQL and sets it). Without
/// it these tests are reported as skipped. Serialized: each test's pool opens several connections
/// and a default PostgreSQL allows 100.
@Suite(
    "Cloud store contract: PostgreSQL", .serialized,
    .enabled(if: PostgresFixture.url != nil, "set FOGLINE_TEST_POSTGRES_URL=postgres://USER:PASS@HOST:PORT/DB to run"))
struct CloudStorePostgresTests {
    static let fixture: CloudStoreContract.Fixture = { try PostgresFixture() }

    @Test("merging deltas in any order, with duplicates, stores their join")
    func mergeIsTheJoin() async throws { try await CloudStoreContract.mergeIsTheJoin(Self.fixture) }

    @Test("a delta spanning several upsert statements is stored whole")
    func largeDelta() async throws { try await CloudStoreContract.largeDelta(Self.fixture) }

    @Test("a batch equals the full state's batch for any peer and size")
    func batchMatchesFullState() async throws { try await CloudStoreContract.batchMatchesFullState(Self.fixture) }

    @Test("merging batch after batch converges to the full state")
    func batchesConverge() async throws { try await CloudStoreContract.batchesConverge(Self.fixture) }

    @Test("concurrent merges from many tasks over two instances store the same join")
    func concurrentMerges() async throws { try await CloudStoreContract.concurrentMerges(Self.fixture, instances: 2) }

    @Test("audit appends continue the chain or store nothing")
    func auditContinuity() async throws { try await CloudStoreContract.auditContinuity(Self.fixture) }

    @Test("batch parts: out of order, duplicates, expiry")
    func batchParts() async throws { try await CloudStoreContract.batchParts(Self.fixture) }

    @Test("two instances receiving a batch's last parts at once: exactly one returns it")
    func concurrentLastParts() async throws { try await CloudStoreContract.concurrentLastParts(Self.fixture) }

    @Test("sites, contacts and never-merged sites")
    func sitesContactsAndEmptySites() async throws { try await CloudStoreContract.sitesContactsAndEmptySites(Self.fixture) }

    @Test("data survives reopening; a closed store refuses calls")
    func reopenAndClose() async throws { try await CloudStoreContract.reopenAndClose(Self.fixture) }
}
