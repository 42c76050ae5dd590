public import FoglineCore
import Foundation

/// The aggregator's own writes (`desired` fields from the HTTP API), as writer
/// `cloud.<instance>`.
///
/// Each write takes the next dot of this writer from the store's summary, so the writes of one
/// instance run one at a time, each merged durably before the next reads the summary: no two
/// writes share a dot. (Being an actor is not enough: a write suspends while it reads and merges,
/// and another call would enter meanwhile and read the same summary.) Another instance is another
/// writer, so instances never need to agree on dots.
public actor CloudWriter {
    /// `NodeID(name: "cloud.<instance>")`.
    public nonisolated let node: NodeID
    /// `cloud.<instance>`.
    public nonisolated let name: String
    private let store: any CloudStore
    private var clock: HybridLogicalClock
    /// The last write queued: the next one starts when it has finished.
    private var lastWrite: Task<ReplicaSummary, any Error>?

    /// The writer of instance `instance`, writing into `store`.
    public init(instance: String, store: any CloudStore) {
        name = "cloud.\(instance)"
        node = NodeID(name: name)
        self.store = store
        // No persisted bound: a restarted instance with a fixed name starts at wall time, and its
        // dots still come from the durable summary, so a write is never lost; a wall clock set
        // back would only make its later writes lose LWW ties to its own earlier ones.
        clock = HybridLogicalClock(node: node, persistedBound: nil, wallMilliseconds: Self.wall())
    }

    /// Sets `fields` of `device`'s twin `desired` in `site`; returns the site's summary after the
    /// durable merge. `observed` are the stamps of the values being replaced: the clock moves past
    /// them (unless one is implausibly far ahead), so a write made after seeing a value wins over
    /// it even when the writer of that value has a clock slightly ahead of ours.
    public func setDesired(
        site: String, device: String, fields: [(String, FieldValue)], observed: [HLCTimestamp] = []
    ) async throws -> ReplicaSummary {
        let previous = lastWrite
        let write = Task {
            _ = try? await previous?.value
            return try await self.write(site: site, device: device, fields: fields, observed: observed)
        }
        lastWrite = write
        return try await write.value
    }

    private func write(
        site: String, device: String, fields: [(String, FieldValue)], observed: [HLCTimestamp]
    ) async throws -> ReplicaSummary {
        for stamp in observed {
            // A stamp beyond the clock's max offset is not adopted (HLC rule); the write then
            // loses to it, which the response shows.
            _ = try? clock.update(receiving: stamp, wallMilliseconds: Self.wall())
        }
        let summary = try await store.summary(site: site)
        var state = SiteState()
        state.merge(SiteDelta(context: summary.context))
        let stamp = clock.now(wallMilliseconds: Self.wall()).timestamp
        let delta = state.set(.desired, device: device, fields: fields, stamp: stamp)
        return try await store.merge(delta, site: site)
    }

    static func wall() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970 * 1_000)) }
}
