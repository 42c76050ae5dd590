import FoglineCore
import FoglineStore
import Testing

@Suite("HLC bound, ingest rows, outbox, commands, raw telemetry")
struct EdgeBookkeepingTests {
    @Test("the HLC bound round-trips and never decreases")
    func hlcBound() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("edge.sqlite")
        let store = try EdgeStore(path: path)
        #expect(try store.loadHLCBound() == nil)
        try store.commit(StoreBatch(hlcBound: 1_763_800_002_000))
        #expect(try store.loadHLCBound() == 1_763_800_002_000)
        try store.commit(StoreBatch(hlcBound: 5))  // a stale bound (e.g. a replayed batch)
        #expect(try store.loadHLCBound() == 1_763_800_002_000)
        try store.commit(StoreBatch(hlcBound: HLCTimestamp.maxMilliseconds))
        try store.close()
        #expect(try EdgeStore(path: path).loadHLCBound() == HLCTimestamp.maxMilliseconds)
    }

    @Test("ingest rows round-trip and the last row of a device wins")
    func ingestRows() throws {
        let (store, directory) = try EdgeStore.temporary()
        defer { _ = directory }
        let pump = IngestRow(device: "pump-1", epoch: 3, lastSeq: 140, received: 120, duplicates: 7, gaps: 2, missingRanges: [0x01, 0x64, 0x0A, 0xFF])
        let fresh = IngestRow(device: "aq-5", epoch: 1, lastSeq: nil, received: 0, duplicates: 0, gaps: 0)
        var newer = pump
        newer.lastSeq = 141
        newer.received = 121
        newer.missingRanges = []
        try store.commit(StoreBatch(ingest: [pump, fresh]))
        #expect(try store.loadIngest() == [fresh, pump])
        try store.commit(StoreBatch(ingest: [pump, newer]))
        #expect(try store.loadIngest() == [fresh, newer])
        let extreme = IngestRow(device: "meter.3", epoch: .max, lastSeq: .max, received: .max, duplicates: 1 << 63, gaps: 0)
        try store.commit(StoreBatch(ingest: [extreme]))
        #expect(try store.loadIngest().contains(extreme))
    }

    @Test("the outbox is FIFO, forgets acknowledged messages and survives a reopen")
    func outbox() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("edge.sqlite")
        let store = try EdgeStore(path: path)
        let messages = (0..<5).map { index in
            OutboxMessage(
                topic: "fogline/v1/sync/site/edge-a/up", payload: [UInt8](repeating: UInt8(index), count: index * 3),
                qos: index == 4 ? .atMostOnce : .atLeastOnce, retain: index == 2, createdMilliseconds: 1_000 + UInt64(index))
        }
        let first = try store.commit(StoreBatch(outboxAppends: Array(messages[0..<3])))
        let second = try store.commit(StoreBatch(outboxAppends: Array(messages[3...])))
        #expect(first.outboxIDs.count == 3 && second.outboxIDs.count == 2)
        let entries = try store.outbox(limit: 10)
        #expect(entries.map(\.message) == messages)
        #expect(entries.map(\.id) == first.outboxIDs + second.outboxIDs)
        #expect(entries.map(\.id) == entries.map(\.id).sorted())
        #expect(try store.outbox(limit: 2).map(\.message) == Array(messages[0..<2]))
        #expect(try store.outboxSize() == (messages: 5, payloadBytes: 30))

        // Acknowledge the first two; the newest id is acknowledged too and never reused.
        try store.commit(StoreBatch(acknowledgedOutboxIDs: [entries[0].id, entries[1].id, entries[4].id]))
        let appended = try store.commit(StoreBatch(outboxAppends: [messages[0]]))
        #expect(appended.outboxIDs[0] > entries[4].id)
        try store.close()

        let reopened = try EdgeStore(path: path)
        let remaining = try reopened.outbox(limit: 10)
        #expect(remaining.map(\.message) == [messages[2], messages[3], messages[0]])
        #expect(remaining.map(\.id) == [entries[2].id, entries[3].id, appended.outboxIDs[0]])
    }

    @Test("an outbox append with a deduplication key is idempotent")
    func outboxDeduplication() throws {
        let (store, directory) = try EdgeStore.temporary()
        defer { _ = directory }
        let frame = OutboxMessage(topic: "up", payload: [1, 2, 3], createdMilliseconds: 7, deduplicationKey: "frame-17")
        let batch = StoreBatch(outboxAppends: [frame, OutboxMessage(topic: "up", payload: [4], createdMilliseconds: 8, deduplicationKey: "frame-18")])
        let first = try store.commit(batch)
        let again = try store.commit(batch)
        #expect(again.outboxIDs == first.outboxIDs)
        #expect(try store.outbox(limit: 10).count == 2)
    }

    @Test("commands are upserted by id and found by status")
    func commands() throws {
        let (store, directory) = try EdgeStore.temporary()
        defer { _ = directory }
        let open = CommandRecord(
            id: "c-1", device: "valve-2", name: "open_valve", argumentsJSON: #"{"percent":40}"#, fence: 42,
            createdMilliseconds: 1_000, deadlineMilliseconds: 31_000)
        let close = CommandRecord(
            id: "c-2", device: "valve-2", name: "close_valve", fence: 42, createdMilliseconds: 2_000, deadlineMilliseconds: 32_000)
        try store.commit(StoreBatch(commands: [open, close]))
        #expect(try store.commands(status: .pending) == [open, close])

        var earlier = open
        earlier.status = .timedOut
        earlier.attempts = 1
        var done = earlier
        done.status = .rejected
        done.detail = "stale fencing token"
        try store.commit(StoreBatch(commands: [earlier, done]))  // the last record of an id wins
        try store.commit(StoreBatch(commands: [earlier, done]))  // idempotent
        #expect(try store.commands(status: .pending) == [close])
        #expect(try store.commands(status: .rejected) == [done])
        #expect(try store.commands(status: .timedOut).isEmpty)
        #expect(try store.commands() == [done, close])
        #expect(try store.commands(status: "custom-state").isEmpty)
    }

    @Test("raw readings are served in (epoch, seq) order after a given position; a re-birth does not collide")
    func rawTelemetryQuery() throws {
        let (store, directory) = try EdgeStore.temporary()
        defer { _ = directory }
        var state = SiteState()
        let node = NodeID(name: "edge-a")
        let deltas = (0..<20).map { seq in
            telemetryDelta(&state, device: seq % 2 == 0 ? "pump-1" : "valve-2", seq: UInt64(seq), node: node, milliseconds: 1_000 + UInt64(seq))
        }
        try store.commit(StoreBatch(deltas: deltas.shuffled()))
        let all = try store.rawTelemetry(device: "pump-1", limit: 100)
        #expect(all.map(\.key.seq) == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18])
        #expect(all.allSatisfy { state.raw.readings[$0.key] == $0.reading })
        #expect(try store.rawTelemetry(device: "pump-1", after: (1, 10), limit: 3).map(\.key.seq) == [12, 14, 16])
        #expect(try store.rawTelemetry(device: "nobody", limit: 3).isEmpty)
        // The device restarts its numbering with a new birth (epoch 2): seq 0 again, a new reading.
        try store.commit(StoreBatch(deltas: [telemetryDelta(&state, device: "pump-1", epoch: 2, seq: 0, node: node, milliseconds: 5_000)]))
        let reborn = try store.rawTelemetry(device: "pump-1", after: (1, 16), limit: 10)
        #expect(reborn.map { [$0.key.epoch, $0.key.seq] } == [[1, 18], [2, 0]])
        #expect(try store.pruneRawTelemetry(keepingPerDevice: 4) == 13)
        #expect(try store.rawTelemetry(device: "valve-2", limit: 100).map(\.key.seq) == [13, 15, 17, 19])
        #expect(try store.rawTelemetry(device: "pump-1", limit: 100).map { [$0.key.epoch, $0.key.seq] } == [[1, 14], [1, 16], [1, 18], [2, 0]])
    }
}
