import Testing

/// The ``CloudStoreContract`` on ``SQLiteCloudStore``.
@Suite("Cloud store contract: SQLite")
struct CloudStoreSQLiteTests {
    static let fixture: CloudStoreContract.Fixture = { try SQLiteFixture() }

    @Test("merging deltas in any order, with duplicates, stores their join")
    func mergeIsTheJoin() async throws { try await CloudStoreContract.mergeIsTheJoin(Self.fixture) }

    @Test("a delta spanning several upsert statements is stored whole")
    func largeDelta() async throws { try await CloudStoreContract.largeDelta(Self.fixture) }

    @Test("a batch equals the full state's batch for any peer and size")
    func batchMatchesFullState() async throws { try await CloudStoreContract.batchMatchesFullState(Self.fixture) }

    @Test("merging batch after batch converges to the full state")
    func batchesConverge() async throws { try await CloudStoreContract.batchesConverge(Self.fixture) }

    @Test("concurrent merges from many tasks store the same join")
    func concurrentMerges() async throws { try await CloudStoreContract.concurrentMerges(Self.fixture, instances: 1) }

    @Test("audit appends continue the chain or store nothing")
    func auditContinuity() async throws { try await CloudStoreContract.auditContinuity(Self.fixture) }

    @Test("batch parts: out of order, duplicates, expiry")
    func batchParts() async throws { try await CloudStoreContract.batchParts(Self.fixture) }

    @Test("sites, contacts and never-merged sites")
    func sitesContactsAndEmptySites() async throws { try await CloudStoreContract.sitesContactsAndEmptySites(Self.fixture) }

    @Test("data survives reopening; a closed store refuses calls")
    func reopenAndClose() async throws { try await CloudStoreContract.reopenAndClose(Self.fixture) }
}
