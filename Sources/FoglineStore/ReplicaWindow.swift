public import FoglineCore
import GRDB

extension EdgeStore {
    /// What anti-entropy tells the other side: the stored causal context and alarm-kernel digest.
    /// Only committed writes count (see ``FoglineCore/ReconcileReplica``).
    public func replicaSummary() throws -> ReplicaSummary {
        try read("read the replica summary") { db in
            let reader = StateReader(db: db, path: path)
            return ReplicaSummary(context: try reader.context(), kernelDigest: try reader.alarms().digest)
        }
    }

    /// The part of the stored state that `SiteState.batch(since: peer, maxEntries: entriesPerWriter)`
    /// reads, without loading the rest: the whole causal context and alarm kernel, and per writer,
    /// over all tables together, its entries up to the cut: the `entriesPerWriter + 1 + k`-th
    /// smallest of its dots past the peer's contiguous counter (`k`: the peer's dots of it beyond
    /// that counter), without those `peer` holds.
    ///
    /// Why that is enough for the batch to equal the one the whole state gives: a batch ships
    /// every missing entry when there are at most `entriesPerWriter` of them (then there was no
    /// cut, or the cut left out nothing of a writer with fewer), and otherwise the oldest
    /// `entriesPerWriter` missing dots with, per writer, a limit below that writer's
    /// `(entriesPerWriter + 1)`-th missing dot, which is at or below the cut (at most `k` of the
    /// dots up to the cut are held by the peer). Every entry at or below the limit is loaded.
    ///
    /// Folds the telemetry journal first, in the same transaction, so raw readings and rollups are
    /// read from their tables.
    public func replicaWindow(since peer: ReplicaSummary, entriesPerWriter: Int) throws -> SiteState {
        do {
            return try foldJournal { db in try Self.replicaWindow(db, path: path, since: peer, entriesPerWriter: entriesPerWriter) }
        } catch {
            throw StoreError.wrapping(error, path: path, operation: "read a replica window")
        }
    }

    private static func replicaWindow(_ db: Database, path: String, since peer: ReplicaSummary, entriesPerWriter: Int) throws -> SiteState {
        let reader = StateReader(db: db, path: path)
        let context = try reader.context()
        var window = SiteDelta(
            context: context, registry: FieldMaps(), presence: LWWRegisterMap(), reported: FieldMaps(),
            desired: FieldMaps(), counters: PNCounters(), alarms: try reader.alarms(), rollups: TelemetryRollups(),
            raw: RawTelemetry())
        var writers = Set(context.versionVector.map(\.node))
        for dot in context.cloud { writers.insert(dot.node) }
        for writer in writers.sorted(by: { $0.rawValue < $1.rawValue }) {
            let from = peer.context.contiguousMaximum(of: writer)
            // Dots the peer holds beyond its contiguous counter are filtered out after the
            // query; fetch that many more so the cut still leaves `entriesPerWriter + 1`.
            let beyond = peer.context.cloud.lazy.filter { $0.node == writer }.count
            var range = StateReader.DotRange(
                writer: writer, after: from, limit: entriesPerWriter + 1 + beyond, peer: peer.context)
            // Each part alone would read up to `limit` rows, most of them past what the window
            // keeps; bounded by the cut, all parts together read `limit` rows.
            range.through = try reader.dotCut(of: range)
            for part in FieldPart.allCases {
                let maps = try reader.fieldMaps(part, in: range)
                switch part {
                case .registry: window.registry!.merge(maps, otherContext: CausalContext(), ownContext: CausalContext())
                case .reported: window.reported!.merge(maps, otherContext: CausalContext(), ownContext: CausalContext())
                case .desired: window.desired!.merge(maps, otherContext: CausalContext(), ownContext: CausalContext())
                }
            }
            window.presence!.merge(try reader.presence(in: range), otherContext: CausalContext(), ownContext: CausalContext())
            window.counters!.merge(try reader.counters(in: range), otherContext: CausalContext(), ownContext: CausalContext())
            window.rollups!.merge(try reader.rollups(in: range), otherContext: CausalContext(), ownContext: CausalContext())
            window.raw!.merge(try reader.rawTelemetry(in: range), otherContext: CausalContext(), ownContext: CausalContext())
        }
        var state = SiteState()
        state.merge(window)
        return state
    }
}
