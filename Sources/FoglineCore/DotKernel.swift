/// A dot kernel: elements tagged with the dots that added them. An element is removed by
/// putting its dots in a causal context without the entry, so nothing is kept for removed
/// elements (no tombstones). The basis of ``AddWinsSet`` and ``MultiValueRegister``.
public struct DotKernel<Element: Hashable & Sendable & StableHashable>: DotStore {
    public private(set) var entries: [Dot: Element] = [:] {
        didSet { digest = Self.digest(of: entries) }
    }
    /// Order-independent stable hash of the entries, compared between replicas.
    public private(set) var digest: UInt64 = 0

    public init() {}

    public init(entries: [Dot: Element]) {
        self.entries = entries
        self.digest = Self.digest(of: entries)
    }

    private static func digest(of entries: [Dot: Element]) -> UInt64 {
        entries.reduce(0) { sum, entry in
            var hasher = StableHasher()
            hasher.combine(entry.key.node.rawValue)
            hasher.combine(entry.key.counter)
            hasher.combine(entry.value.stableHash)
            return sum &+ hasher.finalize()
        }
    }

    public var isEmpty: Bool { entries.isEmpty }

    public var elements: Set<Element> { Set(entries.values) }

    /// The dots currently tagging `element`.
    public func dots(of element: Element) -> [Dot] {
        entries.compactMap { $0.value == element ? $0.key : nil }.sorted()
    }

    /// A delta that adds `element` with `dot`; its context also covers `replacing`, which the add
    /// supersedes. Returns the delta's kernel and context.
    static func adding(_ element: Element, dot: Dot, replacing: [Dot]) -> (DotKernel, CausalContext) {
        var kernel = DotKernel()
        kernel.entries[dot] = element
        var context = CausalContext(replacing)
        context.insert(dot)
        return (kernel, context)
    }

    /// A delta that removes the entries tagged by `dots`. The removal takes a dot of its own, `dot`,
    /// so a peer that had already seen every removed dot still lacks something and is sent it.
    static func removing(_ dots: [Dot], dot: Dot) -> (DotKernel, CausalContext) {
        var context = CausalContext(dots)
        context.insert(dot)
        return (DotKernel(), context)
    }

    /// The whole kernel whenever the peer's kernel differs. A peer's causal context cannot tell:
    /// a peer may have learned a dot from a replica that still held its element, and so hold every
    /// dot seen here and yet an element removed here. Kernels are small (active alarms, a register's
    /// concurrent values), and a whole kernel with the whole context is always a correct join.
    public func delta(since peer: CausalContext, peerDigest: UInt64, ownContext: CausalContext) -> DotKernel? {
        peerDigest == digest ? nil : self
    }

    public mutating func merge(_ other: DotKernel, otherContext: CausalContext, ownContext: CausalContext) {
        // Entries the other side has seen and no longer holds were removed there.
        var joined = entries.filter { dot, _ in other.entries[dot] != nil || !otherContext.contains(dot) }
        // Entries new to this side are added; ones it has seen and dropped stay removed.
        for (dot, element) in other.entries where joined[dot] == nil && !ownContext.contains(dot) {
            joined[dot] = element
        }
        entries = joined
    }
}

/// An add-wins set (observed-remove set) built on a dot kernel: a remove only removes the adds it
/// has seen, so an add concurrent with a remove wins.
public enum AddWinsSet<Element: Hashable & Sendable & StableHashable> {
    public typealias State = Replicated<DotKernel<Element>>

    /// Adds `element` on behalf of `node` and returns the delta to ship.
    public static func add(_ element: Element, by node: NodeID, to state: inout State) -> State.Delta {
        let (kernel, context) = DotKernel.adding(
            element, dot: state.context.nextDot(for: node), replacing: state.store.dots(of: element))
        let delta = State.Delta(store: kernel, context: context)
        state.merge(delta)
        return delta
    }

    /// Removes `element` (the adds seen so far) on behalf of `node` and returns the delta to ship.
    public static func remove(_ element: Element, by node: NodeID, from state: inout State) -> State.Delta {
        let (kernel, context) = DotKernel<Element>.removing(
            state.store.dots(of: element), dot: state.context.nextDot(for: node))
        let delta = State.Delta(store: kernel, context: context)
        state.merge(delta)
        return delta
    }
}

/// A multi-value register: a write replaces the values it has seen; concurrent writes are all
/// kept until a later write resolves them.
public enum MultiValueRegister<Value: Hashable & Sendable & StableHashable> {
    public typealias State = Replicated<DotKernel<Value>>

    public static func write(_ value: Value, by node: NodeID, to state: inout State) -> State.Delta {
        let (kernel, context) = DotKernel.adding(
            value, dot: state.context.nextDot(for: node), replacing: Array(state.store.entries.keys))
        let delta = State.Delta(store: kernel, context: context)
        state.merge(delta)
        return delta
    }
}
