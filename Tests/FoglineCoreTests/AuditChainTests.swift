import FoglineCore
import FoglineTesting
import Testing

@Suite("Audit chain")
struct AuditChainTests {
    static let kinds = ["kv", "lease.acquire", "lease.release", "role", "shard", "job"]

    /// A chain of `count` random decisions by `edge-a`, with an HLC whose wall clock wanders.
    static func chain(count: Int, using random: inout SeededRandom) -> (AuditChain, [AuditEntry]) {
        var writer = RandomSiteWriter(name: "edge-a")
        var chain = AuditChain(node: "edge-a")
        let entries = (0..<count).map { _ in
            chain.append(
                at: writer.stamp(using: &random), kind: random.pick(kinds), key: "key-\(random.int(in: 0...9))",
                detail: "holder=edge-\(random.pick(["a", "b", "c"])) token=\(random.int(in: 1...1_000))")
        }
        return (chain, entries)
    }

    @Test("a chain verifies and ends at the chain's head", arguments: PropertySeeds.seeds(default: 20))
    func verifies(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let (chain, entries) = Self.chain(count: random.int(in: 1...40), using: &random)
        #expect(AuditChain.verify(entries) == .valid(chain.head), "seed \(seed)")
        #expect(entries.first?.previousHash == .zero && entries.first?.index == 1)
        #expect(AuditChain.verify([]) == .valid(.genesis))
    }

    @Test("changing any field of any entry is detected at that entry", arguments: PropertySeeds.seeds(default: 40))
    func tamperedField(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let (_, entries) = Self.chain(count: 12, using: &random)
        for field in 0..<8 {
            var tampered = entries
            let position = random.int(in: 0...(entries.count - 1))
            var entry = tampered[position]
            switch field {
            case 0: entry.index += UInt64(random.int(in: 1...3))
            case 1: entry.node = "edge-b"
            case 2: entry.timestamp.logical += 1
            case 3: entry.kind = entry.kind == "kv" ? "job" : "kv"
            case 4: entry.key += "x"
            case 5: entry.detail = String(entry.detail.dropLast())
            case 6: entry.previousHash = AuditHash(bytes: random.bytes(count: 32))!
            default: entry.hash = AuditHash(bytes: random.bytes(count: 32))!
            }
            tampered[position] = entry
            let result = AuditChain.verify(tampered)
            let expected: AuditChain.Failure =
                switch field {
                case 0: .nonConsecutiveIndex(expected: UInt64(position + 1), found: entry.index)
                case 6: .brokenLink
                default: .badHash
                }
            #expect(result == .invalid(at: UInt64(position + 1), expected), "seed \(seed) field \(field) at \(position + 1): \(result)")
        }
    }

    @Test("removing, reordering or inserting an entry is detected", arguments: PropertySeeds.seeds(default: 40))
    func structuralChanges(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let (_, entries) = Self.chain(count: 10, using: &random)

        // Removal of any entry but the last (dropping the tail is what an anchor guards against).
        let removed = random.int(in: 0...8)
        var withoutOne = entries
        withoutOne.remove(at: removed)
        #expect(
            AuditChain.verify(withoutOne)
                == .invalid(at: UInt64(removed + 1), .nonConsecutiveIndex(expected: UInt64(removed + 1), found: UInt64(removed + 2))),
            "seed \(seed)")

        let first = random.int(in: 0...8)
        let second = random.int(in: (first + 1)...9)
        var swapped = entries
        swapped.swapAt(first, second)
        #expect(AuditChain.verify(swapped) == .invalid(at: UInt64(first + 1), .nonConsecutiveIndex(expected: UInt64(first + 1), found: UInt64(second + 1))), "seed \(seed)")

        // A forged entry, correctly linked and hashed, slipped in after position `at`.
        let at = random.int(in: 0...9)
        let before = at == 0 ? AuditChain.Anchor.genesis : AuditChain.Anchor(after: entries[at - 1])
        let forged = AuditEntry(
            index: before.index + 1, node: "edge-a", timestamp: entries[at].timestamp, kind: "job", key: "forged", detail: "",
            previousHash: before.hash)
        var inserted = entries
        inserted.insert(forged, at: at)
        let result = AuditChain.verify(inserted)
        #expect(!result.isValid, "seed \(seed)")
        if at < 9 {
            // The forgery itself passes; the real entry after it no longer fits.
            #expect(result == .invalid(at: UInt64(at + 2), .nonConsecutiveIndex(expected: UInt64(at + 2), found: UInt64(at + 1))), "seed \(seed): \(result)")
        }
    }

    @Test("a suffix verifies from the anchor of the entry before it, and only from it", arguments: PropertySeeds.seeds(default: 20))
    func suffix(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let (chain, entries) = Self.chain(count: 15, using: &random)
        let split = random.int(in: 1...14)
        let suffix = Array(entries[split...])
        let anchor = AuditChain.Anchor(after: entries[split - 1])
        #expect(AuditChain.verify(suffix, from: anchor) == .valid(chain.head), "seed \(seed)")
        // Only the hash and index are needed; the timestamp check is then skipped for the first.
        #expect(AuditChain.verify(suffix, from: .init(index: anchor.index, hash: anchor.hash, timestamp: nil)).isValid)
        #expect(!AuditChain.verify(suffix).isValid)
        let wrong = AuditChain.Anchor(after: entries[split == 1 ? 2 : 0])
        #expect(!AuditChain.verify(suffix, from: .init(index: anchor.index, hash: wrong.hash, timestamp: nil)).isValid)
        // Appending resumes from a persisted head.
        var resumed = AuditChain(node: "edge-a", resumingFrom: chain.head)
        let next = resumed.append(at: HLCTimestamp(logical: chain.head.timestamp!.logical + 1, node: NodeID(name: "edge-a")), kind: "kv", key: "k", detail: "v")
        #expect(AuditChain.verify(entries + [next]).isValid)
    }

    @Test("timestamps going backwards are detected even when hashes are right")
    func timeBackwards() {
        let node = NodeID(name: "edge-a")
        let first = AuditEntry(
            index: 1, node: "edge-a", timestamp: HLCTimestamp(milliseconds: 2_000, counter: 0, node: node), kind: "kv", key: "k",
            detail: "v1", previousHash: .zero)
        let second = AuditEntry(
            index: 2, node: "edge-a", timestamp: HLCTimestamp(milliseconds: 1_000, counter: 0, node: node), kind: "kv", key: "k",
            detail: "v2", previousHash: first.hash)
        #expect(AuditChain.verify([first, second]) == .invalid(at: 2, .timeWentBackwards))
        let same = AuditEntry(
            index: 2, node: "edge-a", timestamp: first.timestamp, kind: "kv", key: "k", detail: "v2", previousHash: first.hash)
        #expect(AuditChain.verify([first, same]) == .invalid(at: 2, .timeWentBackwards))
    }

    @Test("the encoding is unambiguous and the hash is pinned")
    func encoding() {
        let timestamp = HLCTimestamp(milliseconds: 1_763_800_000_123, counter: 4, node: NodeID(name: "edge-a"))
        func entry(key: String, detail: String) -> AuditEntry {
            AuditEntry(index: 1, node: "edge-a", timestamp: timestamp, kind: "kv", key: key, detail: detail, previousHash: .zero)
        }
        #expect(entry(key: "ab", detail: "c").hash != entry(key: "a", detail: "bc").hash)
        #expect(entry(key: "", detail: "kv").hash != entry(key: "kv", detail: "").hash)
        // The cloud verifies with the same encoding, so it must never drift.
        #expect(entry(key: "door", detail: "version=3").hash.description == Self.pinnedHash)
        let hash = entry(key: "door", detail: "version=3").hash
        #expect(AuditHash(hash.description) == hash)
        #expect(AuditHash(hash.description.uppercased()) == hash)
        #expect(AuditHash("xyz") == nil && AuditHash(bytes: [1, 2]) == nil)
    }

    // From an independent Python reimplementation of the encoding (hashlib.sha256).
    static let pinnedHash = "757052b9bd0848721e28b24becae14ab813fa6336b077be038f0df740661f5c0"
}
