/// One part of a delta-state CRDT whose causal context is kept outside it (Almeida, Shoker and
/// Baquero, "Delta State Replicated Data Types"): the site state is several dot stores sharing
/// one ``CausalContext``. Deltas are stores too, so the same `merge` applies full states,
/// `delta(since:)` results and mutator deltas.
public protocol DotStore: Sendable, Equatable {
    init()

    /// `true` when the store holds nothing.
    var isEmpty: Bool { get }

    /// A digest of the store for stores whose causal context alone cannot tell what a peer lacks
    /// (dot kernels: a peer may hold every dot yet still hold an element removed here). Others
    /// return 0.
    var digest: UInt64 { get }

    /// What a replica whose causal context is `peer` and whose digest of this store is
    /// `peerDigest` lacks, or `nil` if it lacks nothing; `ownContext` is this store's causal
    /// context. Shipped together with `ownContext`.
    func delta(since peer: CausalContext, peerDigest: UInt64, ownContext: CausalContext) -> Self?

    /// Joins `other`, which arrived with causal context `otherContext`, into this store, whose
    /// causal context (before the join) is `ownContext`. Associative, commutative, idempotent.
    mutating func merge(_ other: Self, otherContext: CausalContext, ownContext: CausalContext)
}

extension DotStore {
    public var digest: UInt64 { 0 }
}

/// A dot store made of entries that each carry their own dot and join without looking at the
/// causal contexts (last-writer-wins cells, grow-only sets): any subset of its entries is a valid
/// delta, which is what lets anti-entropy ship a large difference in bounded batches.
public protocol EntryDotStore: DotStore {
    /// Calls `body` with the dot of every entry.
    func forEachDot(_ body: (Dot) -> Void)

    /// The entries whose dot `isIncluded` accepts, or `nil` if there are none.
    func entries(where isIncluded: (Dot) -> Bool) -> Self?
}

extension EntryDotStore {
    /// The entries a peer lacks: those whose dot its context does not hold.
    public func delta(since peer: CausalContext, peerDigest: UInt64, ownContext: CausalContext) -> Self? {
        entries { !peer.contains($0) }
    }
}

/// What a replica tells a peer before anti-entropy so the peer can send only what it lacks: its
/// causal context and its dot-kernel digest.
public struct ReplicaSummary: Sendable, Hashable {
    public var context: CausalContext
    public var kernelDigest: UInt64

    public init(context: CausalContext, kernelDigest: UInt64) {
        self.context = context
        self.kernelDigest = kernelDigest
    }

    /// Whether a replica that sent this summary lacks nothing of one that sent `other`: then
    /// anti-entropy has no batch to build, and need not read any state.
    public func holdsEverything(of other: ReplicaSummary) -> Bool {
        kernelDigest == other.kernelDigest && context.includes(other.context)
    }
}

/// A dot store together with its own causal context: a complete, standalone delta CRDT.
public struct Replicated<Store: DotStore>: Sendable, Equatable {
    /// What travels between replicas: a store (absent when the peer lacks none of its entries)
    /// and the sender's causal context. An absent store is not the same as an empty one: an
    /// empty dot kernel with a context removes what that context covers.
    public struct Delta: Sendable, Equatable {
        public var store: Store?
        public var context: CausalContext

        public init(store: Store?, context: CausalContext) {
            self.store = store
            self.context = context
        }
    }

    public var store: Store
    public var context: CausalContext

    public init(store: Store = Store(), context: CausalContext = CausalContext()) {
        self.store = store
        self.context = context
    }

    /// This whole state as a delta.
    public var asDelta: Delta { Delta(store: store, context: context) }

    /// What this replica tells a peer before anti-entropy.
    public var summary: ReplicaSummary { ReplicaSummary(context: context, kernelDigest: store.digest) }

    /// What a replica that sent `peer` lacks, or `nil` if it lacks nothing.
    public func delta(since peer: ReplicaSummary) -> Delta? {
        let part = store.delta(since: peer.context, peerDigest: peer.kernelDigest, ownContext: context)
        if part == nil && peer.context.includes(context) { return nil }
        return Delta(store: part, context: context)
    }

    public mutating func merge(_ delta: Delta) {
        if let part = delta.store {
            store.merge(part, otherContext: delta.context, ownContext: context)
        }
        context.formUnion(delta.context)
    }

    /// Joins another replica's full state.
    public mutating func merge(_ other: Replicated) {
        merge(other.asDelta)
    }
}
