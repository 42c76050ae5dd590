public import FoglineCore
import Foundation

/// The aggregator's own writes (`desired` fields from the HTTP API), as writer
/// `cloud.<instance>`.
///
/// An actor because each write takes the next dot of this writer from the store's summary: the
/// writes of one instance are serialised and each is merged durably before the next reads the
/// summary, so no two writes share a dot. Another instance is another writer, so instances never
/// need to agree on dots.
public actor CloudWriter {
    /// `NodeID(name: "cloud.<instance>")`.
    public let node: NodeID
    public let name: String
    private let store: any CloudStore
    private var clock: HybridLogicalClock

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
    /// durable merge.
    public func setDesired(site: String, device: String, fields: [(String, FieldValue)]) async throws -> ReplicaSummary {
        let summary = try await store.summary(site: site)
        var state = SiteState()
        state.merge(SiteDelta(context: summary.context))
        let stamp = clock.now(wallMilliseconds: Self.wall()).timestamp
        let delta = state.set(.desired, device: device, fields: fields, stamp: stamp)
        return try await store.merge(delta, site: site)
    }

    static func wall() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970 * 1_000)) }
}
