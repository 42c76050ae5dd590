import FoglineCore
import FoglineStore
import Logging

/// What the two sync shells (``SiteGossip`` per peer, ``CloudUplink`` to the aggregator) do the
/// same way with a ``ReconcileSession``'s actions; only how a hello, a batch or an
/// acknowledgement travels differs, and that is passed in.
///
/// The rule kept here: a received batch is merged durably before its acknowledgement leaves, the
/// acknowledgement carries the store's summary after that merge, and a batch whose merge failed
/// is not acknowledged (its sender sends it again).
struct ReconcileLink {
    let store: EdgeStore
    let logger: Logger
    /// Joins a delta into the node and returns once it is committed.
    let mergeDurably: @Sendable (SiteDelta) async throws -> Void

    struct Transport {
        var hello: (ReplicaSummary, _ wantsReply: Bool) async -> Void
        var batch: (_ id: UInt64, _ base: CausalContext, SiteDelta) async -> Void
        var acknowledge: (_ id: UInt64, ReplicaSummary, _ refused: Bool) async -> Void
    }

    /// Performs `actions` in order; returns how many batches were merged.
    /// Runs on the calling shell's actor (`nonisolated(nonsending)`), so the transport closures
    /// may use its state.
    @discardableResult
    nonisolated(nonsending) func perform(_ actions: [ReconcileSession.Action], over transport: Transport) async -> Int {
        var merged = 0
        var mergeFailed = false
        for action in actions {
            switch action {
            case .sendHello(let summary, let wantsReply):
                await transport.hello(summary, wantsReply)
            case .sendBatch(let id, let base, let delta):
                await transport.batch(id, base, delta)
            case .merge(let delta):
                do {
                    try await mergeDurably(delta)
                    merged += 1
                } catch {
                    mergeFailed = true
                    logger.error("could not merge a received batch; it is not acknowledged and will be sent again", metadata: ["error": "\(error)"])
                }
            case .acknowledge(let id, let mergedBatch):
                guard !mergeFailed else { continue }
                let summary: ReplicaSummary
                do { summary = try store.replicaSummary() } catch {
                    logger.error("cannot read the replica summary to acknowledge a batch", metadata: ["error": "\(error)"])
                    continue
                }
                await transport.acknowledge(id, summary, !mergedBatch)
            }
        }
        return merged
    }
}

/// Milliseconds of the monotonic clock since `start`: the time the shells pass to their state
/// machines.
func milliseconds(since start: ContinuousClock.Instant) -> UInt64 {
    let elapsed = ContinuousClock.now - start
    return UInt64(elapsed.components.seconds) * 1_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000_000_000)
}
