import FoglineCore
import FoglineStore
import Logging

/// The committed site state as anti-entropy reads it: the store's summary, taken once, and
/// batches read as windows of the store (``FoglineStore/EdgeStore/replicaWindow(since:entriesPerWriter:)``).
/// A read error is logged and reads as "nothing to send"; the next tick tries again.
struct StoreReplica: ReconcileReplica {
    let store: EdgeStore
    let logger: Logger
    let summary: ReplicaSummary

    init(store: EdgeStore, logger: Logger) {
        self.store = store
        self.logger = logger
        do { summary = try store.replicaSummary() } catch {
            logger.error("cannot read the replica summary", metadata: ["error": "\(error)"])
            // Claims nothing, so nothing is wrongly taken as held; the other side sends all it has.
            summary = ReplicaSummary(context: CausalContext(), kernelDigest: 0)
        }
    }

    func batch(since peer: ReplicaSummary, maxEntries: Int) -> SiteDelta? {
        // Sessions ask after every tick, ack and local write; reading a window folds the
        // telemetry journal, so answer "nothing" without touching the store when nothing is lacking.
        if peer.holdsEverything(of: summary) { return nil }
        do {
            return try store.replicaWindow(since: peer, entriesPerWriter: maxEntries).batch(since: peer, maxEntries: maxEntries)
        } catch {
            logger.error("cannot read a batch from the store", metadata: ["error": "\(error)"])
            return nil
        }
    }
}
