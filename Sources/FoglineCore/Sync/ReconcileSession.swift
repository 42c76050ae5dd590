/// One end of an anti-entropy link between two replicas of a site's state: two edge nodes of a
/// site (gossip over the peer link), or the `cloud-uplink` holder and the aggregator (over MQTT).
/// Both ends run this same machine; time is passed in and nothing here does I/O.
///
/// On (re)connect each side sends a hello with its ``ReplicaSummary``. From the other side's
/// summary a side computes what the other lacks and sends it in bounded batches, a few in flight
/// at a time. The receiver merges a batch durably and only then acknowledges it with its summary
/// after the merge.
///
/// Each batch names its *base*: what the sender assumed the receiver holds, batches still in
/// flight included. A batch's context may cover the dots of those earlier batches, so a receiver
/// that does not hold the base (an earlier batch was lost) refuses it rather than claim dots whose
/// entries never reached it; the sender then starts again from what the receiver said it holds. What the other side is known to hold (``remoteHolds``) grows only from what it
/// said: its hello, its acknowledgements and the contexts of the batches it sent (a replica ships
/// only what it holds durably). So:
///
/// - each write is sent once per link while the link stays up, and never back to a side that
///   already holds it (its origin above all);
/// - a batch lost with a connection, or never acknowledged, is sent again (computed afresh from
///   what the other side is known to hold), and merging it twice changes nothing;
/// - a side that lost state in a crash says so in its next hello, which replaces what was known.
public struct ReconcileSession: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// Batches sent and not yet acknowledged; the next waits for an acknowledgement.
        public var maxInFlight = 4
        /// Entries per batch (the alarm kernel, when it travels, comes on top).
        public var maxBatchEntries = 5_000
        /// A batch not acknowledged within this is no longer counted as on its way: what it
        /// carried is computed and sent again.
        public var ackTimeoutMilliseconds: UInt64 = 10_000
        /// A hello not answered within this is sent again.
        public var helloRetryMilliseconds: UInt64 = 3_000

        public init() {}
    }

    public enum Action: Sendable, Equatable {
        /// Send this side's summary; `wantsReply` asks the other side to answer with its own.
        case sendHello(ReplicaSummary, wantsReply: Bool)
        /// Send a batch, with the base it was computed from, for the other side to merge and
        /// acknowledge.
        case sendBatch(id: UInt64, base: CausalContext, SiteDelta)
        /// Merge a received batch durably into the local replica. Comes before the batch's
        /// acknowledgement, which must not leave before the merge is durable.
        case merge(SiteDelta)
        /// Acknowledge batch `id` with the local replica's summary (after the merge); `merged`
        /// is false when the batch was refused because the local replica does not hold its base.
        case acknowledge(id: UInt64, merged: Bool)
    }

    /// Where the link is.
    public enum Phase: Sendable, Equatable {
        case disconnected
        /// Connected; this side's hello went out at `helloSentAt` and is not answered yet.
        case greeting(helloSentAt: UInt64)
        /// The other side's summary is known: batches flow.
        case open
    }

    struct InFlight: Sendable {
        var id: UInt64
        var covers: CausalContext
        /// The local kernel digest when the batch carried the kernel, else `nil`.
        var kernelDigest: UInt64?
        /// Whether the batch carried the whole local context (it was the last of a round): only
        /// then does its kernel remove everything removed here.
        var complete: Bool
        var sentAt: UInt64
    }

    public let configuration: Configuration
    public private(set) var phase = Phase.disconnected
    /// What the other side is known to hold durably.
    public private(set) var remoteHolds = CausalContext()
    /// Whether the other side has said what it holds (a hello or an acknowledgement).
    private var heardFromRemote = false

    /// What the other side is known to hold durably, or `nil` before it has said anything. It
    /// survives a disconnect (it only grows from what the other side said until its next hello
    /// replaces it), so an edge can tell, while the link is down, which of its rows the
    /// aggregator already has before dropping them.
    public var knownRemoteHolds: CausalContext? { heardFromRemote ? remoteHolds : nil }
    /// The other side's dot-kernel digest as it last said.
    public private(set) var remoteKernelDigest: UInt64 = 0
    private var inFlight: [InFlight] = []
    private var nextBatchID: UInt64 = 1
    /// The digests (local when sent, remote after merging) of the last kernel the other side
    /// merged. While both stay so, sending the kernel again would change nothing there: the
    /// kernels differ because the other side holds alarms not merged here yet, which it sends.
    private var kernelSettled: (local: UInt64, remote: UInt64)?

    /// `batchIDPrefix` becomes the high 32 bits of this session's batch ids. Over a link where
    /// frames can outlive the process (a broker keeps parts of an unfinished batch), pass random
    /// bits per incarnation, as ``CloudSyncResponder``'s instances do, so a restarted sender's
    /// batch never shares an id with parts of one sent before.
    public init(configuration: Configuration = Configuration(), batchIDPrefix: UInt32 = 0) {
        self.configuration = configuration
        self.nextBatchID = UInt64(batchIDPrefix) << 32 | 1
    }

    /// Batches sent and not acknowledged yet.
    public var batchesInFlight: Int { inFlight.count }

    // MARK: Inputs

    /// The link came up: say hello.
    public mutating func connected(local: some ReconcileReplica, at now: UInt64) -> [Action] {
        phase = .greeting(helloSentAt: now)
        inFlight.removeAll()
        return [.sendHello(local.summary, wantsReply: true)]
    }

    /// The link went down: what was in flight is sent again after the next hello.
    public mutating func disconnected() {
        phase = .disconnected
        inFlight.removeAll()
    }

    /// The other side's hello: what it holds now replaces what was known (it may have lost
    /// state in a crash), batches in flight are forgotten, and what it lacks starts flowing. It is
    /// answered when it asks, unless this side's own hello is still on its way there (both sides
    /// connected at once).
    public mutating func receivedHello(
        _ summary: ReplicaSummary, wantsReply: Bool, local: some ReconcileReplica, at now: UInt64
    ) -> [Action] {
        let reply: Bool
        if case .greeting = phase { reply = false } else { reply = wantsReply }
        remoteHolds = summary.context
        heardFromRemote = true
        remoteKernelDigest = summary.kernelDigest
        inFlight.removeAll()
        kernelSettled = nil
        phase = .open
        var actions: [Action] = reply ? [.sendHello(local.summary, wantsReply: false)] : []
        actions += pump(local: local, at: now)
        return actions
    }

    /// A batch from the other side: merged, then acknowledged, when the local replica holds
    /// its base; otherwise refused. Either way the other side holds what the batch covers, so
    /// none of it is sent back.
    public mutating func receivedBatch(
        id: UInt64, base: CausalContext, _ batch: SiteDelta, local: some ReconcileReplica
    ) -> [Action] {
        remoteHolds.formUnion(batch.context)
        guard local.summary.context.includes(base) else { return [.acknowledge(id: id, merged: false)] }
        return [.merge(batch), .acknowledge(id: id, merged: true)]
    }

    /// The other side merged batch `id` durably, or refused it (`merged` false), and now holds
    /// `summary`. A refusal means a batch before it was lost: every batch in flight rests on it,
    /// so they are all computed again.
    public mutating func receivedAcknowledgement(
        id: UInt64, merged: Bool, summary: ReplicaSummary, local: some ReconcileReplica, at now: UInt64
    ) -> [Action] {
        if merged {
            if let index = inFlight.firstIndex(where: { $0.id == id }) {
                if let digest = inFlight[index].kernelDigest, inFlight[index].complete {
                    kernelSettled = (digest, summary.kernelDigest)
                }
                inFlight.remove(at: index)
            }
        } else {
            inFlight.removeAll()
        }
        remoteHolds.formUnion(summary.context)
        heardFromRemote = true
        remoteKernelDigest = summary.kernelDigest
        return pump(local: local, at: now)
    }

    /// Time passes: unanswered hellos are repeated, unacknowledged batches given up on and what
    /// they carried sent again.
    public mutating func tick(local: some ReconcileReplica, at now: UInt64) -> [Action] {
        switch phase {
        case .disconnected:
            return []
        case .greeting(let sentAt):
            guard now >= sentAt + configuration.helloRetryMilliseconds else { return [] }
            phase = .greeting(helloSentAt: now)
            return [.sendHello(local.summary, wantsReply: true)]
        case .open:
            inFlight.removeAll { now >= $0.sentAt + configuration.ackTimeoutMilliseconds }
            return pump(local: local, at: now)
        }
    }

    /// Sends what the other side lacks, as far as the in-flight window allows. Call it after
    /// every local change (a local write, a merge).
    public mutating func pump(local: some ReconcileReplica, at now: UInt64) -> [Action] {
        guard phase == .open else { return [] }
        var actions: [Action] = []
        let localSummary = local.summary
        while inFlight.count < configuration.maxInFlight {
            var assumed = remoteHolds
            for batch in inFlight { assumed.formUnion(batch.covers) }
            // A kernel on its way is assumed to arrive. Only that kernel: a batch whose context
            // covers an alarm's dot without carrying the alarm would make the other side drop
            // the alarm for good when the kernel comes.
            let assumedDigest = inFlight.last { $0.kernelDigest != nil }?.kernelDigest ?? remoteKernelDigest
            guard
                let batch = local.batch(
                    since: ReplicaSummary(context: assumed, kernelDigest: assumedDigest), maxEntries: configuration.maxBatchEntries)
            else { break }
            if assumed.includes(batch.context) {
                if batch.carriesNoParts { break }
                if batch.carriesOnlyAlarms, let settled = kernelSettled,
                    settled == (localSummary.kernelDigest, assumedDigest)
                { break }
            }
            let id = nextBatchID
            nextBatchID += 1
            inFlight.append(InFlight(
                id: id, covers: batch.context, kernelDigest: batch.alarms == nil ? nil : localSummary.kernelDigest,
                complete: batch.context == localSummary.context, sentAt: now))
            actions.append(.sendBatch(id: id, base: assumed, batch))
        }
        return actions
    }
}
