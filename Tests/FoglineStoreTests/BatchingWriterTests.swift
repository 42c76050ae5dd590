import FoglineCore
import FoglineStore
import FoglineTesting
import Foundation
import GRDB
import Synchronization
import Testing

@Suite("BatchingWriter")
struct BatchingWriterTests {
    /// A writer whose timer never fires during a test: only flush() and the size threshold commit.
    static func manualWriter(_ store: EdgeStore, maxPendingItems: Int = 1_000, errors: ErrorLog = ErrorLog()) -> BatchingWriter {
        BatchingWriter(
            store: store, configuration: .init(interval: .seconds(3_600), maxPendingItems: maxPendingItems),
            onError: { error in errors.append(error) })
    }

    @Test("many submits are coalesced into one transaction and flush() commits them all")
    func coalesces() async throws {
        let (store, directory) = try EdgeStore.temporary()
        defer { _ = directory }
        let writer = Self.manualWriter(store, maxPendingItems: 10_000)
        var state = SiteState()
        let node = NodeID(name: "edge-a")
        for seq in 0..<500 {
            let delta = telemetryDelta(&state, device: "pump-\(seq % 7)", seq: UInt64(seq), node: node, milliseconds: 1_000 + UInt64(seq))
            try await writer.submit(StoreBatch(deltas: [delta], context: state.context, hlcBound: UInt64(seq)))
        }
        #expect(await writer.statistics.transactions == 0)
        #expect(await writer.statistics.pendingItems > 0)
        let report = try await writer.flush()
        let statistics = await writer.statistics
        #expect(statistics.submittedBatches == 500)
        #expect(statistics.transactions == 1)
        #expect(statistics.pendingItems == 0)
        #expect(statistics.rowsChanged == report?.rowsChanged)
        #expect(statistics.blobBytes > 0)
        let stored = try store.loadSiteState()
        #expect(differingParts(stored, state) == [])
        #expect(try store.loadHLCBound() == 499)
        #expect(try await writer.flush() == nil)  // nothing left
    }

    @Test("reaching the size threshold commits without waiting for the interval")
    func sizeThreshold() async throws {
        let (store, directory) = try EdgeStore.temporary()
        defer { _ = directory }
        let writer = Self.manualWriter(store, maxPendingItems: 100)
        for index in 0..<1_000 {
            try await writer.submit(StoreBatch(ingest: [IngestRow(device: "d-\(index % 50)", epoch: 1, lastSeq: UInt64(index), received: UInt64(index), duplicates: 0, gaps: 0)]))
        }
        #expect(await writer.statistics.transactions == 10)
        try await writer.flush()
        #expect(await writer.statistics.transactions == 10)
        let rows = try store.loadIngest()
        #expect(rows.count == 50)
        #expect(rows.allSatisfy { $0.lastSeq! >= 950 })  // the last row of each device won
    }

    @Test("a commit triggered by a cancelled task still commits: cancellation belongs to the caller, not to the batch")
    func cancelledCaller() async throws {
        let (store, directory) = try EdgeStore.temporary()
        defer { _ = directory }
        let writer = Self.manualWriter(store, maxPendingItems: 1)
        let caller = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            // Reaches the size threshold, so this cancelled task runs the commit itself.
            try await writer.submit(StoreBatch(ingest: [IngestRow(device: "d-1", epoch: 1, lastSeq: 5, received: 6, duplicates: 0, gaps: 0)]))
            try await writer.submit(StoreBatch(hlcBound: 42))
            return try await writer.flush()
        }
        _ = try await caller.value
        #expect(await writer.statistics.failedCommits == 0)
        #expect(await writer.statistics.transactions == 2)
        #expect(try store.loadIngest().map(\.lastSeq) == [5])
    }

    @Test("the interval timer commits pending items by itself", .timeLimit(.minutes(1)))
    func timerCommits() async throws {
        let (store, directory) = try EdgeStore.temporary()
        defer { _ = directory }
        let (commits, continuation) = AsyncStream.makeStream(of: CommitReport.self)
        let writer = BatchingWriter(
            store: store, configuration: .init(interval: .milliseconds(10)),
            onCommit: { continuation.yield($0) }, onError: { _ in })
        try await writer.submit(StoreBatch(hlcBound: 77))
        var iterator = commits.makeAsyncIterator()
        let report = await iterator.next()  // no sleep: the commit itself wakes the test
        #expect(report != nil)
        #expect(try store.loadHLCBound() == 77)
        #expect(await writer.statistics.transactions == 1)
    }

    @Test("a failed commit keeps its items, reports the error and succeeds on retry")
    func failureKeepsItems() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("edge.sqlite")
        let store = try EdgeStore(path: path)
        let errors = ErrorLog()
        let writer = Self.manualWriter(store, errors: errors)
        try await DatabaseQueue(path: path).write { db in
            try db.execute(sql: "CREATE TRIGGER refuse BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
        }
        let message = OutboxMessage(topic: "up", payload: [9], createdMilliseconds: 1)
        try await writer.submit(StoreBatch(hlcBound: 5, outboxAppends: [message]))
        await #expect(throws: StoreError.self) { try await writer.flush() }
        #expect(errors.count == 1)
        #expect(await writer.lastError != nil)
        #expect(await writer.statistics.failedCommits == 1)
        #expect(try store.loadHLCBound() == nil)

        try await writer.submit(StoreBatch(hlcBound: 6))  // accepted while failing
        try await DatabaseQueue(path: path).write { db in try db.execute(sql: "DROP TRIGGER refuse") }
        try await writer.flush()
        #expect(await writer.lastError == nil)
        #expect(try store.loadHLCBound() == 6)
        #expect(try store.outbox(limit: 10).map(\.message) == [message])
    }

    @Test("a malformed batch is refused at submit")
    func malformedBatch() async throws {
        let (store, directory) = try EdgeStore.temporary()
        defer { _ = directory }
        let writer = Self.manualWriter(store)
        let error = await #expect(throws: StoreError.self) { try await writer.submit(StoreBatch(alarms: DotKernel())) }
        #expect(error?.kind == .invalidBatch)
        #expect(await writer.statistics.submittedBatches == 0)
    }

    @Test("random submits with random flushes store exactly the merged state", arguments: PropertySeeds.seeds(default: 20))
    func randomSubmits(seed: UInt64) async throws {
        var random = SeededRandom(seed: seed)
        let (store, directory) = try EdgeStore.temporary()
        defer { _ = directory }
        let writer = Self.manualWriter(store, maxPendingItems: random.int(in: 1...40))
        var writers = (0..<3).map { RandomSiteWriter(name: "edge-\($0)") }
        var replica = SiteState()
        for _ in 0..<random.int(in: 10...150) {
            let delta = writers[random.int(in: 0...2)].randomOperation(using: &random)
            replica.merge(delta)
            try await writer.submit(SiteStatePersistenceTests.batch(for: [delta], replica: replica, using: &random))
            if random.chance(0.05) { try await writer.flush() }
        }
        try await writer.flush()
        let stored = try store.loadSiteState()
        #expect(differingParts(stored, replica) == [], "seed \(seed)")
    }
}

/// Errors handed to a writer's `onError`.
final class ErrorLog: Sendable {
    private let errors = Mutex<[StoreError]>([])

    func append(_ error: StoreError) { errors.withLock { $0.append(error) } }
    var count: Int { errors.withLock { $0.count } }
}
