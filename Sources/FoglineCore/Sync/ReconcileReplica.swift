/// A replica of the site state that anti-entropy can read from: what it holds, and what a peer
/// lacks of it in bounded batches.
///
/// A shell must read only what is durable (its store, not writes still waiting for a commit): a
/// peer that merged a write which the sender then lost in a crash would hold a dot the sender
/// issues again for a different write after restart, and ignore that write.
public protocol ReconcileReplica {
    /// Its causal context and dot-kernel digest.
    var summary: ReplicaSummary { get }

    /// What a replica that sent `peer` lacks, at most about `maxEntries` entries of it, with the
    /// context that batch covers; `nil` when it lacks nothing (see ``SiteState/batch(since:maxEntries:)``).
    func batch(since peer: ReplicaSummary, maxEntries: Int) -> SiteDelta?
}

extension SiteState: ReconcileReplica {}
