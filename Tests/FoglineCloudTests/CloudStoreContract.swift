@testable import FoglineCloud
import FoglineCore
import FoglineTesting
import Testing

/// The behaviour every ``CloudStore`` backend must have, as generic checks over a store fixture:
/// ``CloudStoreSQLiteTests`` and ``CloudStorePostgresTests`` run each of them on their backend.
enum CloudStoreContract {
    typealias Fixture = @Sendable () throws -> any CloudStoreFixture

    // MARK: Merge, view, telemetry

    /// Deltas of random replicas merged in a shuffled order with duplicates: the stored state is
    /// their join (view without raw, summary), and the raw summary matches the in-memory readings.
    static func mergeIsTheJoin(_ fixture: Fixture, seeds: Int = 12) async throws {
        try await withStore(try fixture()) { store in
            for seed in PropertySeeds.seeds(default: seeds) {
                let site = "plant_\(seed)"
                let scenario = CloudStoreScenario(seed: seed)
                var random = SeededRandom(seed: seed ^ 0xC10D)
                var last = ReplicaSummary(context: CausalContext(), kernelDigest: 0)
                let deltas = scenario.shuffledWithDuplicates(using: &random)
                for delta in deltas {
                    last = try await store.merge(delta, site: site)
                }
                // The same deltas merged several per transaction (the aggregator's group commit).
                var grouped = ReplicaSummary(context: CausalContext(), kernelDigest: 0)
                var rest = deltas[...]
                while !rest.isEmpty {
                    let count = min(rest.count, random.int(in: 1...4))
                    grouped = try await store.merge(Array(rest.prefix(count)), site: site + "_grouped")
                    rest = rest.dropFirst(count)
                }
                #expect(grouped == scenario.full.summary, "seed \(seed)")
                #expect(try await store.view(site: site + "_grouped") == scenario.fullWithoutRaw, "seed \(seed)")
                let expected = scenario.fullWithoutRaw
                let view = try await store.view(site: site)
                #expect(view.context == expected.context, "seed \(seed)")
                #expect(view.registry == expected.registry, "seed \(seed)")
                #expect(view.presence == expected.presence, "seed \(seed)")
                #expect(view.reported == expected.reported, "seed \(seed)")
                #expect(view.desired == expected.desired, "seed \(seed)")
                #expect(view.counters == expected.counters, "seed \(seed)")
                #expect(view.alarms == expected.alarms, "seed \(seed)")
                #expect(view.rollups == expected.rollups, "seed \(seed)")
                #expect(view.raw.isEmpty, "seed \(seed)")
                #expect(view == expected, "seed \(seed)")
                #expect(try await store.overview(site: site) == SiteOverview(expected), "seed \(seed)")
                #expect(last == scenario.full.summary, "seed \(seed)")
                let summary = try await store.summary(site: site)
                #expect(summary == scenario.full.summary, "seed \(seed)")
                let telemetry = try await store.telemetry(site: site)
                #expect(telemetry == CloudStoreScenario.telemetry(of: scenario.full.raw), "seed \(seed)")
            }
        }
    }

    /// A whole state shipped as one delta, with more raw readings than one upsert statement
    /// holds (``SQLUpsert/rowsPerStatement``): every statement's rows land, the view and the raw
    /// summary equal the state's.
    static func largeDelta(_ fixture: Fixture) async throws {
        try await withStore(try fixture()) { store in
            let scenario = CloudStoreScenario(seed: 41, operations: 1_600...1_600)
            try #require(scenario.full.raw.readings.count > SQLUpsert.rowsPerStatement, "the delta must span two statements at least")
            let summary = try await store.merge(scenario.full.asDelta, site: "plant")
            #expect(summary == scenario.full.summary)
            #expect(try await store.view(site: "plant") == scenario.fullWithoutRaw)
            #expect(try await store.telemetry(site: "plant") == CloudStoreScenario.telemetry(of: scenario.full.raw))
        }
    }

    // MARK: Batches

    /// `batch(since:)` equals the in-memory `SiteState.batch(since:)` of the full state for peers
    /// with nothing, a replica's state, a random subset (a context with gaps), a stale kernel digest
    /// and everything, at several batch sizes.
    static func batchMatchesFullState(_ fixture: Fixture, seeds: Int = 12) async throws {
        try await withStore(try fixture()) { store in
            for seed in PropertySeeds.seeds(default: seeds) {
                let site = "plant_\(seed)"
                let scenario = CloudStoreScenario(seed: seed)
                for delta in scenario.deltas { _ = try await store.merge(delta, site: site) }
                var random = SeededRandom(seed: seed ^ 0xBA7C)
                var peers: [ReplicaSummary] = [SiteState().summary, scenario.full.summary]
                peers += scenario.replicas.map(\.summary)
                for _ in 0..<4 { peers.append(scenario.randomSubset(using: &random).summary) }
                let subset = scenario.randomSubset(using: &random)
                peers.append(ReplicaSummary(context: subset.context, kernelDigest: random.next()))
                peers.append(ReplicaSummary(context: scenario.full.context, kernelDigest: random.next()))
                for (index, peer) in peers.enumerated() {
                    for maxEntries in [0, 1, 2, 3, 7, random.int(in: 1...40), 10_000] {
                        let stored = try await store.batch(site: site, since: peer, maxEntries: maxEntries)
                        let expected = scenario.full.batch(since: peer, maxEntries: maxEntries)
                        #expect(stored == expected, "seed \(seed), peer \(index), maxEntries \(maxEntries)")
                    }
                }
            }
        }
    }

    /// A replica that repeatedly asks the store for a batch and merges it ends with the full state,
    /// starting from nothing or from a random subset.
    static func batchesConverge(_ fixture: Fixture, seeds: Int = 8) async throws {
        try await withStore(try fixture()) { store in
            for seed in PropertySeeds.seeds(default: seeds) {
                let site = "plant_\(seed)"
                let scenario = CloudStoreScenario(seed: seed)
                for delta in scenario.deltas { _ = try await store.merge(delta, site: site) }
                var random = SeededRandom(seed: seed ^ 0xC0DE)
                for start in [SiteState(), scenario.randomSubset(using: &random)] {
                    var replica = start
                    let maxEntries = random.int(in: 1...12)
                    var rounds = 0
                    while let batch = try await store.batch(site: site, since: replica.summary, maxEntries: maxEntries) {
                        replica.merge(batch)
                        rounds += 1
                        if rounds > 10_000 { break }
                    }
                    #expect(replica == scenario.full, "seed \(seed), maxEntries \(maxEntries), \(rounds) rounds")
                }
            }
        }
    }

    // MARK: Concurrency

    /// Many tasks (spread over `instances` stores on the same data) merging at once leave the
    /// same state as merging one after the other.
    static func concurrentMerges(_ fixture: Fixture, instances: Int, seeds: Int = 3) async throws {
        let fixture = try fixture()
        var stores: [any CloudStore] = []
        do {
            for _ in 0..<instances { stores.append(try await fixture.open()) }
            for seed in PropertySeeds.seeds(default: seeds) {
                let site = "plant_\(seed)"
                let scenario = CloudStoreScenario(seed: seed, operations: 80...160)
                var random = SeededRandom(seed: seed ^ 0xFA57)
                let sequence = scenario.shuffledWithDuplicates(using: &random)
                let tasks = 8
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for task in 0..<tasks {
                        let store = stores[task % stores.count]
                        let share = sequence.enumerated().filter { $0.offset % tasks == task }.map(\.element)
                        group.addTask {
                            for delta in share { _ = try await store.merge(delta, site: site) }
                        }
                    }
                    try await group.waitForAll()
                }
                for store in stores {
                    let view = try await store.view(site: site)
                    #expect(view == scenario.fullWithoutRaw, "seed \(seed)")
                    let telemetry = try await store.telemetry(site: site)
                    #expect(telemetry == CloudStoreScenario.telemetry(of: scenario.full.raw), "seed \(seed)")
                }
            }
        } catch {
            for store in stores { try? await store.close() }
            await fixture.destroy()
            throw error
        }
        for store in stores { try await store.close() }
        await fixture.destroy()
    }

    // MARK: Audit

    static func auditContinuity(_ fixture: Fixture) async throws {
        try await withStore(try fixture()) { store in
            let site = "plant_1"
            let entries = auditChain(node: "edge-a", count: 10)
            var through = try await store.appendAudit(Array(entries[0..<4]), site: site, node: "edge-a")
            #expect(through == 4)
            // A resend overlapping what is stored: the stored part is skipped.
            through = try await store.appendAudit(Array(entries[2..<7]), site: site, node: "edge-a")
            #expect(through == 7)
            through = try await store.appendAudit(Array(entries[0..<7]), site: site, node: "edge-a")
            #expect(through == 7)
            through = try await store.appendAudit([], site: site, node: "edge-a")
            #expect(through == 7)

            // A gap: entry 8 is missing.
            await expectRefused(store, Array(entries[8..<10]), site: site, index: 8, reasonContains: "missing")
            // A tampered entry, after a good one: nothing of the call is stored.
            var tampered = entries[8]
            tampered.detail += "!"
            await expectRefused(store, [entries[7], tampered], site: site, index: 9, reasonContains: "hash does not match its contents")
            // A link to the wrong previous entry (its own hash is right).
            let relinked = AuditEntry(
                index: 8, node: "edge-a", timestamp: entries[7].timestamp, kind: "kv", key: "k", detail: "forged",
                previousHash: entries[5].hash)
            await expectRefused(store, [relinked], site: site, index: 8, reasonContains: "previous hash")
            // Another node's entry in this node's chain.
            let foreign = auditChain(node: "edge-b", count: 8)[7]
            await expectRefused(store, [foreign], site: site, index: 8, reasonContains: "edge-b")
            var chains = try await store.audit(site: site)
            #expect(chains == ["edge-a": Array(entries[0..<7])])

            through = try await store.appendAudit(Array(entries[6..<10]), site: site, node: "edge-a")
            #expect(through == 10)
            let other = auditChain(node: "edge-b", count: 3)
            through = try await store.appendAudit(other, site: site, node: "edge-b")
            #expect(through == 3)
            chains = try await store.audit(site: site)
            #expect(chains == ["edge-a": entries, "edge-b": other])
            let elsewhere = try await store.audit(site: "plant_2")
            #expect(elsewhere.isEmpty)
        }
    }

    static func auditChain(node: String, count: Int) -> [AuditEntry] {
        var chain = AuditChain(node: node)
        return (1...count).map { index in
            chain.append(
                at: HLCTimestamp(milliseconds: 1_763_800_000_000 + UInt64(index) * 10, counter: 0, node: NodeID(name: node)),
                kind: "kv", key: "key-\(index % 3)", detail: "version \(index)")
        }
    }

    private static func expectRefused(
        _ store: any CloudStore, _ entries: [AuditEntry], site: String, index: UInt64, reasonContains text: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        do {
            _ = try await store.appendAudit(entries, site: site, node: "edge-a")
            Issue.record("the append was accepted", sourceLocation: sourceLocation)
        } catch let error as AuditAppendError {
            #expect(error.index == index, sourceLocation: sourceLocation)
            #expect(error.node == "edge-a" && error.site == site, sourceLocation: sourceLocation)
            #expect(error.reason.contains(text), "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    // MARK: Batch parts

    static func batchParts(_ fixture: Fixture) async throws {
        try await withStore(try fixture()) { store in
            let site = "plant_1"
            func part(_ batch: UInt64, _ index: UInt32, of count: UInt32, at time: UInt64) -> StoredBatchPart {
                StoredBatchPart(
                    batchID: batch, index: index, count: count, compression: 1, base: index == 0 ? [9, 9] : [],
                    payload: [UInt8(index), UInt8(truncatingIfNeeded: batch)], receivedWallMilliseconds: time)
            }
            // Out of order, with a duplicate, interleaved with another batch and another node.
            var result = try await store.addBatchPart(part(7, 2, of: 3, at: 1_000), site: site, node: "edge-a")
            #expect(result == nil)
            result = try await store.addBatchPart(part(8, 0, of: 2, at: 1_001), site: site, node: "edge-a")
            #expect(result == nil)
            result = try await store.addBatchPart(part(7, 0, of: 3, at: 1_002), site: site, node: "edge-b")
            #expect(result == nil)
            result = try await store.addBatchPart(part(7, 0, of: 3, at: 1_003), site: site, node: "edge-a")
            #expect(result == nil)
            result = try await store.addBatchPart(part(7, 0, of: 3, at: 1_004), site: site, node: "edge-a")
            #expect(result == nil)
            result = try await store.addBatchPart(part(7, 1, of: 3, at: 1_005), site: site, node: "edge-a")
            #expect(result == [part(7, 0, of: 3, at: 1_003), part(7, 1, of: 3, at: 1_005), part(7, 2, of: 3, at: 1_000)])
            // Forgotten once returned: a late duplicate starts over.
            result = try await store.addBatchPart(part(7, 1, of: 3, at: 1_006), site: site, node: "edge-a")
            #expect(result == nil)
            // A single-part batch completes at once.
            result = try await store.addBatchPart(part(9, 0, of: 1, at: 1_007), site: site, node: "edge-a")
            #expect(result == [part(9, 0, of: 1, at: 1_007)])

            // Expiry: batch 8's part 0 (at 1_001) is dropped once a part arrives more than a minute later.
            let late = 1_001 + StoredBatchPart.expiryMilliseconds + 1
            result = try await store.addBatchPart(part(8, 1, of: 2, at: late), site: site, node: "edge-a")
            #expect(result == nil)
            result = try await store.addBatchPart(part(8, 0, of: 2, at: late + 1), site: site, node: "edge-a")
            #expect(result == [part(8, 0, of: 2, at: late + 1), part(8, 1, of: 2, at: late)])
            // Exactly at the expiry a part is kept.
            result = try await store.addBatchPart(part(10, 0, of: 2, at: 5_000), site: site, node: "edge-c")
            #expect(result == nil)
            result = try await store.addBatchPart(
                part(10, 1, of: 2, at: 5_000 + StoredBatchPart.expiryMilliseconds), site: site, node: "edge-c")
            #expect(result?.count == 2)
        }
    }

    /// Instances receiving the last parts of a batch at the same time: exactly one returns it.
    static func concurrentLastParts(_ fixture: Fixture, rounds: Int = 20) async throws {
        let fixture = try fixture()
        let first = try await fixture.open()
        let second = try await fixture.open()
        do {
            for round in 0..<UInt64(rounds) {
                let parts = (0..<3).map {
                    StoredBatchPart(
                        batchID: round, index: UInt32($0), count: 3, compression: 0, base: [], payload: [UInt8($0)],
                        receivedWallMilliseconds: 10_000 + round)
                }
                let head = try await first.addBatchPart(parts[0], site: "plant_1", node: "edge-a")
                #expect(head == nil)
                async let viaFirst = first.addBatchPart(parts[1], site: "plant_1", node: "edge-a")
                async let viaSecond = second.addBatchPart(parts[2], site: "plant_1", node: "edge-a")
                let results = [try await viaFirst, try await viaSecond].compactMap { $0 }
                #expect(results == [parts], "round \(round)")
            }
        } catch {
            try? await first.close()
            try? await second.close()
            await fixture.destroy()
            throw error
        }
        try await first.close()
        try await second.close()
        await fixture.destroy()
    }

    // MARK: Sites, contacts, empty sites, closing

    static func sitesContactsAndEmptySites(_ fixture: Fixture) async throws {
        try await withStore(try fixture()) { store in
            let empty = try await store.sites()
            #expect(empty.isEmpty)
            var writer = RandomSiteWriter(name: "edge-a")
            var random = SeededRandom(seed: 1)
            for site in ["plant_2", "Plant_1", "plant_1"] {
                _ = try await store.merge(writer.randomOperation(using: &random), site: site)
            }
            let sites = try await store.sites()
            #expect(sites == ["Plant_1", "plant_1", "plant_2"])

            try await store.recordContact(site: "plant_1", node: "edge-a", wallMilliseconds: 100)
            try await store.recordContact(site: "plant_1", node: "edge-a", wallMilliseconds: 50)
            try await store.recordContact(site: "plant_1", node: "edge-b", wallMilliseconds: 70)
            try await store.recordContact(site: "plant_2", node: "edge-a", wallMilliseconds: 10)
            let contacts = try await store.contacts(site: "plant_1")
            #expect(contacts == ["edge-a": 100, "edge-b": 70])
            let none = try await store.contacts(site: "nowhere")
            #expect(none.isEmpty)

            let summary = try await store.summary(site: "nowhere")
            #expect(summary == SiteState().summary)
            let view = try await store.view(site: "nowhere")
            #expect(view == SiteState())
            let overview = try await store.overview(site: "nowhere")
            #expect(overview == SiteOverview(SiteState()))
            let batch = try await store.batch(site: "nowhere", since: SiteState().summary, maxEntries: 10)
            #expect(batch == nil)
            let telemetry = try await store.telemetry(site: "nowhere")
            #expect(telemetry.isEmpty)
        }
    }

    /// Data survives closing and reopening; a closed store refuses calls with a sentence.
    static func reopenAndClose(_ fixture: Fixture) async throws {
        let fixture = try fixture()
        let scenario = CloudStoreScenario(seed: 42)
        do {
            let store = try await fixture.open()
            for delta in scenario.deltas { _ = try await store.merge(delta, site: "plant_1") }
            try await store.close()
            await #expect(throws: CloudStoreError.self) { try await store.summary(site: "plant_1") }
            try await store.close()

            let reopened = try await fixture.open()
            let view = try await reopened.view(site: "plant_1")
            #expect(view == scenario.fullWithoutRaw)
            try await reopened.close()
        } catch {
            await fixture.destroy()
            throw error
        }
        await fixture.destroy()
    }
}
