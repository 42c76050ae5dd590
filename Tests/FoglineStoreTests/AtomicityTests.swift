import FoglineCore
import FoglineStore
import Foundation
import GRDB
import Synchronization
import Testing

/// A commit is all or nothing. The real `kill -9` test of the daemon lives in the edge
/// integration tests; here a failure is injected inside the transaction (a trigger that aborts
/// the last write of the batch) and a second connection watches commits as they happen.
@Suite("Atomicity")
struct AtomicityTests {
    /// Makes every commit whose journal segment holds `readings` readings fail at its last write
    /// (a trigger on a second connection), until ``stopFailingSegments(in:)``.
    static func failSegments(ofReadings readings: Int, in path: String) throws {
        try DatabaseQueue(path: path).write { db in
            try db.execute(sql: """
                CREATE TRIGGER fail_raw BEFORE INSERT ON journal_segment WHEN NEW.readings = \(readings)
                BEGIN SELECT RAISE(ABORT, 'injected failure'); END
                """)
        }
    }

    static func stopFailingSegments(in path: String) throws {
        try DatabaseQueue(path: path).write { db in try db.execute(sql: "DROP TRIGGER fail_raw") }
    }

    @Test("a commit that fails midway leaves no partial rows")
    func failedCommitWritesNothing() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("edge.sqlite")
        let store = try EdgeStore(path: path)
        var state = SiteState()
        let node = NodeID(name: "edge-a")
        let before = telemetryDelta(&state, device: "pump-1", seq: 1, node: node, milliseconds: 1_000)
        try store.commit(StoreBatch(deltas: [before], context: state.context, hlcBound: 10))
        let committedState = try store.loadSiteState()

        // Commands are written last, so the abort comes after every other part was written.
        try DatabaseQueue(path: path).write { db in
            try db.execute(sql: """
                CREATE TRIGGER fail_command BEFORE INSERT ON command WHEN NEW.name = 'boom'
                BEGIN SELECT RAISE(ABORT, 'injected failure'); END
                """)
        }
        var deltas: [SiteDelta] = []
        for seq in 2...50 { deltas.append(telemetryDelta(&state, device: "pump-1", seq: UInt64(seq), node: node, milliseconds: 1_000 + UInt64(seq))) }
        deltas.append(state.set(.desired, device: "pump-1", fields: [("setpoint", .number(20))], stamp: HLCTimestamp(milliseconds: 5_000, counter: 0, node: node)))
        deltas.append(state.raise(Alarm(device: "pump-1", code: "overtemp"), by: node))
        deltas.append(state.addToCounter("messages", 49, by: node))
        let doomed = StoreBatch(
            deltas: deltas, context: state.context, alarms: state.alarms,
            ingest: [IngestRow(device: "pump-1", epoch: 1, lastSeq: 50, received: 50, duplicates: 0, gaps: 0)],
            hlcBound: 99, outboxAppends: [OutboxMessage(topic: "up", payload: [1], createdMilliseconds: 1)],
            commands: [CommandRecord(id: "c-1", device: "pump-1", name: "boom", fence: 1, createdMilliseconds: 1, deadlineMilliseconds: 2)])
        let error = #expect(throws: StoreError.self) { try store.commit(doomed) }
        #expect(error?.description.contains("injected failure") == true)

        let afterFailure = try store.loadSiteState()
        #expect(differingParts(afterFailure, committedState) == [])
        #expect(try store.loadHLCBound() == 10)
        #expect(try store.loadIngest().isEmpty)
        #expect(try store.outbox(limit: 10).isEmpty)
        #expect(try store.commands().isEmpty)
        #expect(try store.integrityCheck() == "ok")

        // The same batch commits once the fault is gone.
        try DatabaseQueue(path: path).write { db in try db.execute(sql: "DROP TRIGGER fail_command") }
        try store.commit(doomed)
        let stored = try store.loadSiteState()
        #expect(differingParts(stored, state) == [])
    }

    @Test("a failure inside the telemetry journal append rolls back, and the next commit works")
    func failureInTheHotPath() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("edge.sqlite")
        let store = try EdgeStore(path: path)
        var state = SiteState()
        let node = NodeID(name: "edge-a")
        try Self.failSegments(ofReadings: 10, in: path)
        let deltas = (0..<10).map { seq in
            telemetryDelta(&state, device: "pump-1", seq: UInt64(seq), node: node, milliseconds: 1_000 + UInt64(seq))
        }
        #expect(throws: StoreError.self) { try store.commit(StoreBatch(deltas: deltas, context: state.context)) }
        #expect(throws: StoreError.self) { try store.commit(StoreBatch(deltas: deltas, context: state.context)) }
        #expect(try store.rawTelemetry(device: "pump-1", limit: 100).isEmpty)
        #expect(try store.loadSiteState() == SiteState())

        try Self.stopFailingSegments(in: path)
        try store.commit(StoreBatch(deltas: deltas, context: state.context))
        let stored = try store.loadSiteState()
        #expect(differingParts(stored, state) == [])
    }

    @Test("after a failed commit, the owner's next batches (whose cells include the failed readings) store exactly its cells")
    func failedCommitLeavesNoRollupCells() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("edge.sqlite")
        let store = try EdgeStore(path: path, configuration: .init(journalFoldInterval: .seconds(3_600)))
        var state = SiteState()
        let node = NodeID(name: "edge-a")
        func batch(seqs: Range<UInt64>) -> StoreBatch {
            let deltas = seqs.map { seq in
                telemetryDelta(&state, device: "pump-\(seq % 2)", seq: seq, node: node, milliseconds: 1_000 + seq)
            }
            return StoreBatch(deltas: deltas, context: state.context)
        }
        try store.commit(batch(seqs: 0..<10))
        try Self.failSegments(ofReadings: 7, in: path)
        // As a node does: its state keeps the readings whose commit failed, so the cells of its
        // next batches (same devices, same minute) include them, while the store's journal does
        // not. A deferral check against the failed commit's cells would accept those batches and
        // the stored cells would lack the failed readings.
        #expect(throws: StoreError.self) { try store.commit(batch(seqs: 10..<17)) }
        try Self.stopFailingSegments(in: path)
        try store.commit(batch(seqs: 20..<30))
        try store.commit(batch(seqs: 30..<40))
        // Everything the owner holds but the failed batch's raw readings.
        let storedRaw = state.raw.readings.filter { !(10..<17).contains($0.key.seq) }
        for stored in [try store.loadSiteState(), try EdgeStore(path: path).loadSiteState()] {
            #expect(differingParts(stored, state).allSatisfy { $0.hasPrefix("raw") })
            #expect(stored.rollups == state.rollups)
            #expect(stored.raw.readings == storedRaw)
        }
    }

    @Test("a failed commit's new device ids are forgotten: the id it gave out goes to the next new device")
    func failedCommitForgetsDeviceIDs() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("edge.sqlite")
        let store = try EdgeStore(path: path, configuration: .init(journalFoldInterval: .seconds(3_600)))
        var state = SiteState()
        let node = NodeID(name: "edge-a")
        func batch(_ devices: [String], seq: UInt64) -> StoreBatch {
            let deltas = devices.map { telemetryDelta(&state, device: $0, seq: seq, node: node, milliseconds: 1_000 + seq) }
            return StoreBatch(deltas: deltas, context: state.context)
        }
        try store.commit(batch(["pump-0"], seq: 0))
        try Self.failSegments(ofReadings: 2, in: path)
        // Gives "pump-new" the next id, then rolls it back.
        #expect(throws: StoreError.self) { try store.commit(batch(["pump-0", "pump-new"], seq: 1)) }
        try Self.stopFailingSegments(in: path)
        // "other-new" now gets that id; "pump-new" must get another one.
        try store.commit(batch(["other-new", "pump-new"], seq: 2))
        let expected = state.raw.readings.filter { $0.key.seq != 1 }
        for stored in [try store.loadSiteState(), try EdgeStore(path: path).loadSiteState()] {
            #expect(stored.raw.readings == expected)
        }
    }

    @Test("a batch with an alarm kernel but no causal context is refused before anything is written")
    func alarmsNeedContext() throws {
        let (store, directory) = try EdgeStore.temporary()
        defer { _ = directory }
        var state = SiteState()
        _ = state.raise(Alarm(device: "door_4", code: "door_forced"), by: NodeID(name: "edge-a"))
        let error = #expect(throws: StoreError.self) { try store.commit(StoreBatch(alarms: state.alarms, hlcBound: 5)) }
        #expect(error?.kind == .invalidBatch)
        #expect(error?.description.contains("StoreBatch.context") == true)
        #expect(try store.loadHLCBound() == nil)
    }

    @Test("a reader on a second connection only ever sees whole batches")
    func readersSeeWholeBatches() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("edge.sqlite")
        let writerStore = try EdgeStore(path: path)
        let readerStore = try EdgeStore(path: path)
        let batchSize = 100
        let batchCount = 40
        let writer = WriterThreadOutcome()
        // A plain thread, so the busy reader below cannot starve it of a cooperative-pool thread.
        let thread = Thread {
            defer { writer.state.withLock { $0.finished = true } }
            var state = SiteState()
            let node = NodeID(name: "edge-a")
            do {
                for batch in 0..<batchCount {
                    var deltas: [SiteDelta] = []
                    for offset in 0..<batchSize {
                        let seq = UInt64(batch * batchSize + offset)
                        deltas.append(telemetryDelta(&state, device: "pump-1", seq: seq, node: node, milliseconds: 1_000 + seq))
                    }
                    try writerStore.commit(StoreBatch(deltas: deltas, hlcBound: UInt64(batch + 1)))
                }
            } catch {
                writer.state.withLock { $0.error = "\(error)" }
            }
        }
        thread.start()
        var observations = 0
        while true {
            let writerFinished = writer.state.withLock { $0.finished }
            let count = try readerStore.rawTelemetry(device: "pump-1", limit: .max).count
            let bound = try readerStore.loadHLCBound() ?? 0
            #expect(count % batchSize == 0, "saw \(count) readings: a partial batch")
            #expect(UInt64(count / batchSize) <= bound, "the bound lags the readings it was committed with")
            observations += 1
            if writerFinished { break }  // this read started after the last commit
        }
        #expect(writer.state.withLock { $0.error } == nil)
        #expect(try readerStore.rawTelemetry(device: "pump-1", limit: .max).count == batchSize * batchCount)
        #expect(observations > 0)
    }
}

private final class WriterThreadOutcome: Sendable {
    struct State {
        var finished = false
        var error: String?
    }
    let state = Mutex(State())
}
