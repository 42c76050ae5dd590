import FoglineCore
@testable import FoglineEdge
import Testing

private func record(_ counter: UInt64) -> Acceptor.Record {
    Acceptor.Record(promised: Ballot(counter: counter, node: NodeID(name: "edge-a")), accepted: nil)
}

/// The next batch, which the test expects to exist.
private func take(_ commit: inout GroupCommit<String>, sourceLocation: SourceLocation = #_sourceLocation) throws -> GroupCommit<String>.Batch {
    let batch = commit.takeBatch()
    return try #require(batch, "no batch to take", sourceLocation: sourceLocation)
}

/// The group commit's bookkeeping: no effect leaves before the writes it depends on are on disk.
@Suite("Quorum group commit")
struct GroupCommitTests {
    @Test("an effect waits for the latest batch that wrote its key; one on other keys leaves at once")
    func effectsWaitForTheirKey() throws {
        var commit = GroupCommit<String>()
        #expect(commit.release("nothing written yet", dependingOn: "a") == "nothing written yet")
        commit.write(record(1), key: "a")
        #expect(commit.release("reply a1", dependingOn: "a") == nil)
        #expect(commit.release("reply b", dependingOn: "b") == "reply b")
        let first = try take(&commit)
        // While batch 1 is written, key a is written again: its next reply waits for batch 2.
        commit.write(record(2), key: "a")
        #expect(commit.release("reply a2", dependingOn: "a") == nil)
        #expect(commit.committed(first) == ["reply a1"])
        let second = try take(&commit)
        #expect(second.records.map(\.key) == ["a"] && second.records.first?.record == record(2))
        #expect(commit.committed(second) == ["reply a2"])
        #expect(!commit.hasWrites && commit.heldCount == 0)
        #expect(commit.release("after", dependingOn: "a") == "after")
    }

    @Test("an effect on no single key waits for every write so far")
    func effectsOnEverything() throws {
        var commit = GroupCommit<String>()
        commit.write(record(1), key: "a")
        let first = try take(&commit)
        #expect(commit.release("roles", dependingOn: nil) == nil, "batch 1 is still being written")
        #expect(commit.committed(first) == ["roles"])
        #expect(commit.release("roles again", dependingOn: nil) == "roles again")
    }

    @Test("records of one key in one batch: only the latest is written; audit entries ride along")
    func latestRecordPerKey() throws {
        var commit = GroupCommit<String>()
        var chain = AuditChain(node: "edge-a")
        commit.write(record(1), key: "a")
        commit.write(record(3), key: "a")
        commit.write(chain.append(at: HLCTimestamp(milliseconds: 5, counter: 0, node: NodeID(name: "edge-a")), kind: "cas", key: "k", detail: "v1"))
        #expect(commit.release("completion k", dependingOn: "k") == nil, "a completion waits for its audit entry")
        let batch = try take(&commit)
        #expect(batch.records.count == 1 && batch.records[0].record == record(3))
        #expect(batch.audit.map(\.key) == ["k"])
        #expect(commit.committed(batch) == ["completion k"])
    }

    @Test("a failed batch is written again with the next; what waited waits for it, except what the caller gives up on")
    func failedBatch() throws {
        var commit = GroupCommit<String>()
        commit.write(record(1), key: "a")
        commit.write(record(1), key: "b")
        #expect(commit.release("reply a", dependingOn: "a") == nil)
        #expect(commit.release("complete b", dependingOn: "b") == nil)
        let failed = try take(&commit)
        commit.write(record(2), key: "b")  // newer than the failed batch's record of b
        #expect(commit.failed(failed) { $0.hasPrefix("complete") } == ["complete b"])
        #expect(commit.durable == 0)
        #expect(commit.release("reply a again", dependingOn: "a") == nil, "a's record is not on disk yet")
        let retry = try take(&commit)
        #expect(Dictionary(uniqueKeysWithValues: retry.records.map { ($0.key, $0.record) }) == ["a": record(1), "b": record(2)])
        #expect(commit.committed(retry) == ["reply a", "reply a again"])
    }
}
