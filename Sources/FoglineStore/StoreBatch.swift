public import FoglineCore

/// Everything one ``EdgeStore/commit(_:)`` writes, in one transaction.
///
/// **Site state.** Each delta's parts are upserted with the join of that part (LWW fields and
/// presence: the higher HLC stamp; counters and rollups: the higher dot; raw readings: the
/// earlier stamp), and its causal context and alarm kernel are folded into the stored ones
/// exactly as `SiteState.merge` does, in order. So a store that is sent every delta its owner
/// merged holds the owner's state, and committing a delta again changes nothing.
///
/// `context` and `alarms` are snapshots of the owner's state after merging the deltas, joined
/// last as one more delta. For the owner's current state that is the same as replacing the
/// stored context and alarm kernel (the tables are small and are rewritten when they change);
/// a stale snapshot committed late cannot undo newer changes, because it is a join.
/// An alarm kernel must come with the causal context it was taken with (`alarms` without
/// `context` is rejected): without it the join cannot tell a cleared alarm from an unseen one.
///
/// **Edge bookkeeping.** `ingest` rows replace the stored row of their device (the last row of a
/// device wins); `hlcBound` only ever raises the stored bound; `acknowledgedOutboxIDs` are
/// deleted before `outboxAppends` are appended; `commands` replace the stored row with the same
/// id (the last one wins).
public struct StoreBatch: Sendable {
    public var deltas: [SiteDelta]
    /// The owner's causal context after merging `deltas` (optional).
    public var context: CausalContext?
    /// The owner's alarm kernel after merging `deltas`; requires `context`.
    public var alarms: DotKernel<Alarm>?
    public var ingest: [IngestRow]
    /// An upper bound on the HLC timestamps issued (ms); see `HybridLogicalClock.Tick.boundToPersist`.
    public var hlcBound: UInt64?
    public var outboxAppends: [OutboxMessage]
    public var acknowledgedOutboxIDs: [Int64]
    public var commands: [CommandRecord]
    /// Make this commit survive power loss, not only a process crash: it runs with
    /// `synchronous=FULL`, which fsyncs the write-ahead log before `commit` returns. Costs one
    /// flash write per commit, so use it only where a protocol needs it (acceptor state that must
    /// be on disk before replying).
    public var syncToDisk: Bool
    /// How many telemetry readings the batch records, as the owner counts them. The store does
    /// not interpret it; it is reported back in ``CommitReport/readings`` once the transaction
    /// committed, so the owner can count readings that are durable (not merely accepted).
    public var readings: Int

    public init(
        deltas: [SiteDelta] = [], context: CausalContext? = nil, alarms: DotKernel<Alarm>? = nil,
        ingest: [IngestRow] = [], hlcBound: UInt64? = nil, outboxAppends: [OutboxMessage] = [],
        acknowledgedOutboxIDs: [Int64] = [], commands: [CommandRecord] = [], syncToDisk: Bool = false,
        readings: Int = 0
    ) {
        self.deltas = deltas
        self.context = context
        self.alarms = alarms
        self.ingest = ingest
        self.hlcBound = hlcBound
        self.outboxAppends = outboxAppends
        self.acknowledgedOutboxIDs = acknowledgedOutboxIDs
        self.commands = commands
        self.syncToDisk = syncToDisk
        self.readings = readings
    }

    /// `true` when committing the batch writes nothing.
    public var isEmpty: Bool {
        deltas.isEmpty && context == nil && alarms == nil && ingest.isEmpty && hlcBound == nil
            && outboxAppends.isEmpty && acknowledgedOutboxIDs.isEmpty && commands.isEmpty
    }

    /// How many items the batch carries: what ``BatchingWriter`` compares with its size threshold.
    public var itemCount: Int {
        deltas.count + ingest.count + outboxAppends.count + acknowledgedOutboxIDs.count + commands.count
            + (hlcBound == nil ? 0 : 1) + (context == nil && alarms == nil ? 0 : 1)
    }

    /// Why the batch cannot be committed, or `nil` if it can.
    public var problem: String? {
        if alarms != nil && context == nil {
            return "the batch carries an alarm kernel without the causal context it was taken with; set StoreBatch.context as well"
        }
        return nil
    }

    /// Appends a later batch, so that committing the result writes exactly what committing `self`
    /// and then `later` would: the coalescing step of ``BatchingWriter``.
    public mutating func append(_ later: StoreBatch) {
        if context != nil || alarms != nil {
            // The earlier snapshot keeps its place in the sequence as a delta: a snapshot joins
            // last, and `later`'s deltas must fold after it.
            deltas.append(SiteDelta(context: context ?? CausalContext(), alarms: alarms))
        }
        deltas.append(contentsOf: later.deltas)
        context = later.context
        alarms = later.alarms
        ingest.append(contentsOf: later.ingest)
        if let bound = later.hlcBound { hlcBound = max(hlcBound ?? 0, bound) }
        acknowledgedOutboxIDs.append(contentsOf: later.acknowledgedOutboxIDs)
        outboxAppends.append(contentsOf: later.outboxAppends)
        commands.append(contentsOf: later.commands)
        syncToDisk = syncToDisk || later.syncToDisk
        readings += later.readings
    }
}
