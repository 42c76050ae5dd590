import FoglineCore
import FoglineStore
import Foundation
import Testing

@Suite("Quorum store")
struct QuorumStoreTests {
    static func temporaryPath() throws -> (String, URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fogline-quorum-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return (directory.appendingPathComponent("quorum.sqlite").path, directory)
    }

    @Test("acceptor records, the incarnation and the audit chain survive a reopen")
    func survivesReopen() throws {
        let (path, directory) = try Self.temporaryPath()
        defer { try? FileManager.default.removeItem(at: directory) }
        let ballot = Ballot(counter: 7, node: NodeID(name: "edge-a"))
        let lease = RegisterValue(
            version: 3, content: .lease(LeaseRecord(holder: "edge-a", token: 2, ttlMilliseconds: 3_000)),
            writers: [OperationID(node: NodeID(name: "edge-a"), incarnation: 1, sequence: 9)])
        var chain = AuditChain(node: "edge-a")
        func stamp(_ counter: UInt16) -> HLCTimestamp { HLCTimestamp(milliseconds: 1_763_800_000_000, counter: counter, node: NodeID(name: "edge-a")) }
        let entries = [
            chain.append(at: stamp(0), kind: "lease.acquire", key: "shard/3", detail: "token=2"),
            chain.append(at: stamp(1), kind: "kv", key: "kv/mode", detail: "version=1"),
        ]
        do {
            let store = try QuorumStore(path: path)
            #expect(try store.nextIncarnation() == 1)
            #expect(try store.auditHead() == .genesis)
            try store.saveAcceptorRecords([
                ("shard/3", Acceptor.Record(promised: ballot, accepted: AcceptedValue(ballot: ballot, value: lease))),
                ("kv/mode", Acceptor.Record(promised: ballot, accepted: nil)),
            ])
            try store.appendAudit(entries)
            try store.close()
        }
        let store = try QuorumStore(path: path)
        #expect(try store.nextIncarnation() == 2)
        let records = try store.acceptorRecords()
        #expect(records["shard/3"]?.accepted?.value == lease && records["kv/mode"]?.accepted == nil && records.count == 2)
        let stored = try store.auditEntries()
        #expect(stored == entries)
        #expect(AuditChain.verify(stored).isValid)
        #expect(try store.auditHead() == AuditChain.Anchor(after: entries[1]))
        #expect(try store.auditEntries(after: 1) == [entries[1]])
    }

    @Test("a group commit writes a batch's acceptor records and audit entries together; a failed audit append keeps the records")
    func groupCommit() throws {
        let (path, directory) = try Self.temporaryPath()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = Ballot(counter: 3, node: NodeID(name: "edge-a"))
        let next = Ballot(counter: 4, node: NodeID(name: "edge-a"))
        let value = RegisterValue(version: 1, content: .data([7]), writers: [OperationID(node: NodeID(name: "edge-a"), incarnation: 1, sequence: 1)])
        // A promise above the accepted ballot survives too.
        let record = Acceptor.Record(promised: next, accepted: AcceptedValue(ballot: first, value: value))
        var chain = AuditChain(node: "edge-a")
        let entry = chain.append(
            at: HLCTimestamp(milliseconds: 1_763_800_000_000, counter: 0, node: NodeID(name: "edge-a")), kind: "kv", key: "kv/a", detail: "version=1")
        do {
            let store = try QuorumStore(path: path)
            #expect(try store.commit(acceptorRecords: [("kv/a", record), ("kv/b", Acceptor.Record(promised: first, accepted: nil))], auditEntries: [entry]) == nil)
            // The same audit index again fails alone: the records of that batch are still written.
            let later = Acceptor.Record(promised: next, accepted: nil)
            #expect(try store.commit(acceptorRecords: [("kv/c", later)], auditEntries: [entry]) != nil)
            try store.close()
        }
        let store = try QuorumStore(path: path)
        let records = try store.acceptorRecords()
        #expect(records["kv/a"] == record && records["kv/b"]?.promised == first && records["kv/c"]?.promised == next)
        #expect(try store.auditEntries() == [entry])
    }
}
