import FoglineCloud
import FoglineCore
import Synchronization

/// A TEST DOUBLE of ``CloudStore``: one ``SiteState`` per site in memory, nothing durable. It follows
/// the protocol's documented semantics so the responder shell and the HTTP API can be tested
/// without a database; the real stores (`SQLiteCloudStore`, `PostgresCloudStore`) have their own
/// contract tests.
final class InMemoryCloudStore: CloudStore {
    struct Closed: Error, CustomStringConvertible {
        var description: String { "the in-memory store is closed" }
    }

    private struct PartKey: Hashable {
        var site: String
        var node: String
        var batchID: UInt64
    }

    private struct Contents {
        var sites: [String: SiteState] = [:]
        var audit: [String: [String: [AuditEntry]]] = [:]
        var parts: [PartKey: [UInt32: StoredBatchPart]] = [:]
        var contacts: [String: [String: UInt64]] = [:]
        var statuses: [String: StoredSiteStatus] = [:]
        var closed = false
        /// Merge transactions so far, for tests that check a frame was (not) merged.
        var merges = 0
    }

    private let contents = Mutex(Contents())
    /// Awaited at the start of every merge: lets a test hold a commit while frames arrive.
    private let mergeGate: (@Sendable () async -> Void)?

    init(mergeGate: (@Sendable () async -> Void)? = nil) {
        self.mergeGate = mergeGate
    }

    /// How many merge transactions the store performed.
    var mergeCount: Int { contents.withLock { $0.merges } }

    private func access<T>(_ body: (inout Contents) throws -> T) throws -> T {
        try contents.withLock { contents in
            guard !contents.closed else { throw Closed() }
            return try body(&contents)
        }
    }

    func merge(_ deltas: [SiteDelta], site: String) async throws -> ReplicaSummary {
        await mergeGate?()
        return try access { contents in
            contents.merges += 1
            for delta in deltas { contents.sites[site, default: SiteState()].merge(delta) }
            return contents.sites[site]!.summary
        }
    }

    func summary(site: String) async throws -> ReplicaSummary {
        try access { ($0.sites[site] ?? SiteState()).summary }
    }

    func batch(site: String, since peer: ReplicaSummary, maxEntries: Int) async throws -> SiteDelta? {
        try access { ($0.sites[site] ?? SiteState()).batch(since: peer, maxEntries: maxEntries) }
    }

    func sites() async throws -> [String] {
        try access { $0.sites.keys.sorted() }
    }

    func view(site: String) async throws -> SiteState {
        var state = try access { $0.sites[site] ?? SiteState() }
        _ = state.pruneRawTelemetry(keepingPerDevice: 0)
        return state
    }

    func overview(site: String) async throws -> SiteOverview {
        SiteOverview(try access { $0.sites[site] ?? SiteState() })
    }

    func telemetry(site: String) async throws -> [String: RawTelemetrySummary] {
        let state = try access { $0.sites[site] ?? SiteState() }
        // device → epoch → (readings, highest seq)
        var epochs: [String: [UInt64: (count: UInt64, highest: UInt64)]] = [:]
        for key in state.raw.readings.keys {
            let old = epochs[key.device, default: [:]][key.epoch] ?? (0, 0)
            epochs[key.device, default: [:]][key.epoch] = (old.count + 1, max(old.highest, key.seq))
        }
        return epochs.mapValues { byEpoch in
            let received = byEpoch.values.reduce(0) { $0 + $1.count }
            let gaps = byEpoch.values.reduce(0) { $0 + ($1.highest + 1 - $1.count) }
            let newest = byEpoch.keys.max().flatMap { byEpoch[$0]?.highest }
            return RawTelemetrySummary(received: received, gaps: gaps, lastSeq: newest)
        }
    }

    func appendAudit(_ entries: [AuditEntry], site: String, node: String) async throws -> UInt64 {
        try access { contents in
            let stored = contents.audit[site]?[node] ?? []
            let anchor = stored.last.map(AuditChain.Anchor.init(after:)) ?? .genesis
            let fresh = entries.filter { $0.index > anchor.index }
            if case .invalid(let index, let failure) = AuditChain.verify(fresh, from: anchor) {
                throw AuditAppendError(site: site, node: node, index: index, reason: "\(failure)")
            }
            contents.audit[site, default: [:]][node] = stored + fresh
            return fresh.last?.index ?? anchor.index
        }
    }

    func audit(site: String) async throws -> [String: [AuditEntry]] {
        try access { $0.audit[site] ?? [:] }
    }

    func addBatchPart(_ part: StoredBatchPart, site: String, node: String) async throws -> [StoredBatchPart]? {
        try access { contents in
            contents.parts = contents.parts.filter { _, parts in
                !parts.values.contains { $0.receivedWallMilliseconds + StoredBatchPart.expiryMilliseconds < part.receivedWallMilliseconds }
            }
            let key = PartKey(site: site, node: node, batchID: part.batchID)
            var parts = contents.parts[key] ?? [:]
            if parts[part.index] == nil { parts[part.index] = part }
            guard parts.count == Int(part.count) else {
                contents.parts[key] = parts
                return nil
            }
            contents.parts[key] = nil
            return parts.values.sorted { $0.index < $1.index }
        }
    }

    func recordContact(site: String, node: String, wallMilliseconds: UInt64) async throws {
        try access { $0.contacts[site, default: [:]][node] = max($0.contacts[site]?[node] ?? 0, wallMilliseconds) }
    }

    func contacts(site: String) async throws -> [String: UInt64] {
        try access { $0.contacts[site] ?? [:] }
    }

    func recordSiteStatus(_ status: [UInt8], site: String, node: String, wallMilliseconds: UInt64) async throws {
        try access { contents in
            guard (contents.statuses[site]?.receivedWallMilliseconds ?? 0) <= wallMilliseconds else { return }
            contents.statuses[site] = StoredSiteStatus(node: node, receivedWallMilliseconds: wallMilliseconds, status: status)
        }
    }

    func siteStatus(site: String) async throws -> StoredSiteStatus? {
        try access { $0.statuses[site] }
    }

    func close() async throws {
        contents.withLock { $0.closed = true }
    }
}
