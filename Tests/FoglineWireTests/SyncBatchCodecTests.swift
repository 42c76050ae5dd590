import FoglineCore
import FoglineTesting
import FoglineWire
import Foundation
import Testing

/// A site state built by `operations` random writes of two writers that merge now and then.
private func randomState(seed: UInt64, operations: Int) -> SiteState {
    var random = SeededRandom(seed: seed)
    var a = RandomSiteWriter(name: "edge-a")
    var b = RandomSiteWriter(name: "edge-b")
    for step in 0..<operations {
        if random.chance(0.5) { _ = a.randomOperation(using: &random) } else { _ = b.randomOperation(using: &random) }
        if step % 50 == 0 { a.state.merge(b.state) }
    }
    a.state.merge(b.state)
    return a.state
}

@Suite("Sync batches: DEFLATE, parts and reassembly")
struct SyncBatchCodecTests {
    @Test("DEFLATE round-trips any bytes and shrinks repetitive ones", arguments: PropertySeeds.seeds(default: 30))
    func deflateRoundTrip(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let noise = (0..<random.int(in: 0...5_000)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        #expect(try Deflate.decompress(Deflate.compress(noise), maxBytes: noise.count) == noise)
        let repetitive = Array(repeating: Array("temp=21.5;".utf8), count: 500).flatMap { $0 }
        let compressed = Deflate.compress(repetitive)
        #expect(compressed.count * 10 < repetitive.count)
        #expect(try Deflate.decompress(compressed, maxBytes: repetitive.count) == repetitive)
    }

    @Test("DEFLATE refuses truncated or corrupt streams and streams that inflate past the limit")
    func deflateRefusesBadInput() {
        let bytes = Array(repeating: UInt8(7), count: 100_000)
        let compressed = Deflate.compress(bytes)
        #expect(throws: WireError.self) { try Deflate.decompress(Array(compressed.dropLast(3)), maxBytes: 1 << 20) }
        #expect(throws: WireError.self) { try Deflate.decompress([0xFF, 0xFF, 0xFF, 0xFF], maxBytes: 1 << 20) }
        #expect(throws: WireError.limitExceeded(what: "inflated sync batch bytes", limit: 50_000)) {
            try Deflate.decompress(compressed, maxBytes: 50_000)
        }
    }

    @Test("a batch cut into parts, delivered shuffled and with duplicates, decodes to the same delta", arguments: PropertySeeds.seeds(default: 20))
    func partsReassemble(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let delta = randomState(seed: seed, operations: 300).asDelta
        var parts = SyncBatchCodec.encode(delta, batchID: 9, maxPartBytes: random.int(in: 64...2_000))
        #expect(parts.allSatisfy { $0.partCount == UInt32(parts.count) && $0.compression == .deflate })
        let base = randomState(seed: seed &+ 1, operations: 20).context
        parts[0].base = Fogline_V1_CausalContext(base)
        var arrivals = parts + parts.filter { _ in random.chance(0.3) }
        arrivals.shuffle(using: &random)
        var assembler = SyncBatchAssembler()
        var decoded: [SyncBatchAssembler.Assembled] = []
        for part in arrivals {
            if let batch = try assembler.assemble(part, from: "edge-a", at: 0) { decoded.append(batch) }
        }
        // A duplicate of a part arriving after completion starts a new, incomplete batch that
        // expires; the batch itself decodes once per completion, with part 0's base.
        #expect(decoded.first == SyncBatchAssembler.Assembled(delta: delta, base: base))
        assembler.expire(at: assembler.limits.partTimeoutMilliseconds)
        #expect(assembler.pendingCount == 0)
    }

    @Test("a small batch travels in one uncompressed part")
    func smallBatch() throws {
        var writer = RandomSiteWriter(name: "edge-a")
        var random = SeededRandom(seed: 1)
        let small = (0..<100).lazy.map { _ in writer.randomOperation(using: &random) }
            .first { SiteDeltaCodec.encode($0).count < SyncBatchCodec.compressionThreshold }
        let delta = try #require(small, "one of 100 random operations encodes below the compression threshold")
        let parts = SyncBatchCodec.encode(delta, batchID: 1, maxPartBytes: 10_000)
        #expect(parts.count == 1 && parts[0].compression == .none)
        var assembler = SyncBatchAssembler()
        #expect(try assembler.add(parts[0], from: "edge-a", at: 0) == delta)
    }

    @Test("batches of different senders with the same id stay apart; bad parts are refused")
    func sendersAndBadParts() throws {
        let a = randomState(seed: 3, operations: 200).asDelta
        let b = randomState(seed: 4, operations: 200).asDelta
        let partsA = SyncBatchCodec.encode(a, batchID: 5, maxPartBytes: 300)
        let partsB = SyncBatchCodec.encode(b, batchID: 5, maxPartBytes: 300)
        var assembler = SyncBatchAssembler()
        var done: [String: SiteDelta] = [:]
        for (partA, partB) in zip(partsA, partsB) {
            if let batch = try assembler.add(partA, from: "edge-a", at: 0) { done["edge-a"] = batch }
            if let batch = try assembler.add(partB, from: "edge-b", at: 0) { done["edge-b"] = batch }
        }
        for part in partsA.dropFirst(partsB.count) { if let batch = try assembler.add(part, from: "edge-a", at: 0) { done["edge-a"] = batch } }
        for part in partsB.dropFirst(partsA.count) { if let batch = try assembler.add(part, from: "edge-b", at: 0) { done["edge-b"] = batch } }
        #expect(done == ["edge-a": a, "edge-b": b])

        var bad = partsA[0]
        bad.partIndex = bad.partCount
        #expect(throws: WireError.self) { try assembler.add(bad, from: "edge-a", at: 0) }
        var conflicting = partsA[1]
        conflicting.partCount += 1
        _ = try assembler.add(partsA[0], from: "edge-c", at: 0)
        #expect(throws: WireError.self) { try assembler.add(conflicting, from: "edge-c", at: 0) }
        #expect(assembler.pendingCount == 0, "a contradicted batch is forgotten")
    }

    @Test("memory stays bounded: the oldest incomplete batch makes room, old ones expire, oversized ones are refused")
    func bounded() throws {
        var limits = SyncBatchAssembler.Limits()
        limits.maxPendingBatches = 3
        limits.maxBatchBytes = 2_000
        limits.partTimeoutMilliseconds = 1_000
        var assembler = SyncBatchAssembler(limits: limits)
        let delta = randomState(seed: 8, operations: 200).asDelta
        for id in UInt64(1)...5 {
            let parts = SyncBatchCodec.encode(delta, batchID: id, maxPartBytes: 100)
            _ = try assembler.add(parts[0], from: "edge-a", at: id * 100)
        }
        #expect(assembler.pendingCount == 3)
        #expect(assembler.expire(at: 1_350) == 1)  // batch 3, first seen at 300
        #expect(assembler.pendingCount == 2)
        let large = SyncBatchCodec.encode(delta, batchID: 99, maxPartBytes: 1_500)
        #expect(large.count > 1)
        #expect(throws: WireError.limitExceeded(what: "sync batch bytes", limit: 2_000)) {
            for part in large { _ = try assembler.add(part, from: "edge-b", at: 0) }
        }
    }
}
