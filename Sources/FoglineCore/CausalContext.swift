/// A unique event: the `counter`-th write by `node`.
public struct Dot: Hashable, Comparable, Sendable {
    public var node: NodeID
    public var counter: UInt64

    @inlinable
    public init(node: NodeID, counter: UInt64) {
        self.node = node
        self.counter = counter
    }

    @inlinable
    public static func < (lhs: Dot, rhs: Dot) -> Bool {
        lhs.node != rhs.node ? lhs.node < rhs.node : lhs.counter < rhs.counter
    }
}

/// The set of dots a replica has seen: a version vector (for each node, every counter up to a
/// maximum) plus a dot cloud (dots seen beyond a gap). Inserting the dot that closes a gap folds
/// the cloud back into the vector, so the cloud only ever holds real gaps and the representation
/// is canonical: two contexts holding the same dots are `==`.
///
/// Sites have a handful of writers, so both parts are small sorted arrays: flat, cache-friendly,
/// and cheap to copy.
public struct CausalContext: Hashable, Sendable {
    /// Sorted by node; parallel to `maxima`.
    @usableFromInline private(set) var nodes: [NodeID] = []
    /// `maxima[i]`: every counter `1...maxima[i]` of `nodes[i]` has been seen.
    @usableFromInline private(set) var maxima: [UInt64] = []
    /// Dots seen beyond a gap, sorted; never adjacent to or covered by the vector.
    public private(set) var cloud: [Dot] = []

    public init() {}

    /// A context holding exactly `dots`.
    public init(_ dots: some Sequence<Dot>) {
        for dot in dots { insert(dot) }
    }

    /// A context holding every dot up to each node's counter in `versionVector`.
    public init(versionVector: some Sequence<(NodeID, UInt64)>) {
        for (node, counter) in versionVector where counter > 0 {
            let index = slot(of: node)
            maxima[index] = max(maxima[index], counter)
        }
    }

    public var isEmpty: Bool { nodes.isEmpty && cloud.isEmpty }

    /// How many dots the context holds: of two replicas where one's context includes the other's,
    /// equal counts mean equal contexts (what the APIs show to tell how far a replica lags).
    public var dotCount: UInt64 { maxima.reduce(0, +) + UInt64(cloud.count) }

    /// The version vector part: for each node, the counter up to which every dot has been seen.
    public var versionVector: [(node: NodeID, counter: UInt64)] {
        zip(nodes, maxima).map { (node: $0, counter: $1) }.filter { $0.counter > 0 }
    }

    /// The highest counter of `node` below which nothing is missing (0 if none).
    @inlinable
    public func contiguousMaximum(of node: NodeID) -> UInt64 {
        for index in nodes.indices where nodes[index] == node { return maxima[index] }
        return 0
    }

    @inlinable
    public func contains(_ dot: Dot) -> Bool {
        if dot.counter <= contiguousMaximum(of: dot.node) { return true }
        return !cloud.isEmpty && cloudContains(dot)
    }

    @usableFromInline
    func cloudContains(_ dot: Dot) -> Bool {
        let index = cloudInsertionIndex(of: dot)
        return index < cloud.count && cloud[index] == dot
    }

    /// The next dot `node` uses for a write of its own.
    public func nextDot(for node: NodeID) -> Dot {
        var highest = contiguousMaximum(of: node)
        for dot in cloud where dot.node == node { highest = max(highest, dot.counter) }
        return Dot(node: node, counter: highest + 1)
    }

    public mutating func insert(_ dot: Dot) {
        guard dot.counter > 0 else { return }
        let index = slot(of: dot.node)
        if dot.counter <= maxima[index] { return }
        if dot.counter == maxima[index] + 1 {
            maxima[index] = dot.counter
            if !cloud.isEmpty { compact(slot: index) }
            return
        }
        let position = cloudInsertionIndex(of: dot)
        if position < cloud.count && cloud[position] == dot { return }
        cloud.insert(dot, at: position)
    }

    /// Adds every dot of `other`.
    public mutating func formUnion(_ other: CausalContext) {
        for (index, node) in other.nodes.enumerated() {
            let mine = slot(of: node)
            if other.maxima[index] > maxima[mine] {
                maxima[mine] = other.maxima[index]
                if !cloud.isEmpty { compact(slot: mine) }
            }
        }
        for dot in other.cloud { insert(dot) }
    }

    public func union(_ other: CausalContext) -> CausalContext {
        var result = self
        result.formUnion(other)
        return result
    }

    /// The dots of this context whose node has a limit in `limits` and whose counter is at most
    /// that limit: what a batch that shipped every entry up to those counters covers.
    public func restricted(to limits: [NodeID: UInt64]) -> CausalContext {
        var result = CausalContext(versionVector: zip(nodes, maxima).compactMap { node, maximum in
            limits[node].map { (node, min(maximum, $0)) }
        })
        for dot in cloud where dot.counter <= limits[dot.node] ?? 0 { result.insert(dot) }
        return result
    }

    /// `true` when every dot of `other` is in `self`.
    public func includes(_ other: CausalContext) -> Bool {
        for (index, node) in other.nodes.enumerated() where other.maxima[index] > contiguousMaximum(of: node) {
            // Each missing counter might still sit in our cloud.
            let from = contiguousMaximum(of: node) + 1
            if other.maxima[index] - from > UInt64(cloud.count) { return false }
            for counter in from...other.maxima[index] where !cloudContains(Dot(node: node, counter: counter)) {
                return false
            }
        }
        return other.cloud.allSatisfy(contains)
    }

    // MARK: - Private

    /// Index of `node` in `nodes`, inserting it with maximum 0 if absent.
    private mutating func slot(of node: NodeID) -> Int {
        var low = 0
        var high = nodes.count
        while low < high {
            let mid = (low + high) / 2
            if nodes[mid] < node { low = mid + 1 } else { high = mid }
        }
        if low == nodes.count || nodes[low] != node {
            nodes.insert(node, at: low)
            maxima.insert(0, at: low)
        }
        return low
    }

    /// Folds cloud dots of `nodes[slot]` that are now covered or adjacent into the vector.
    private mutating func compact(slot: Int) {
        let node = nodes[slot]
        var maximum = maxima[slot]
        var position = cloudInsertionIndex(of: Dot(node: node, counter: 0))
        let start = position
        while position < cloud.count, cloud[position].node == node, cloud[position].counter <= maximum + 1 {
            maximum = max(maximum, cloud[position].counter)
            position += 1
        }
        maxima[slot] = maximum
        if position > start { cloud.removeSubrange(start..<position) }
    }

    @usableFromInline
    func cloudInsertionIndex(of dot: Dot) -> Int {
        var low = 0
        var high = cloud.count
        while low < high {
            let mid = (low + high) / 2
            if cloud[mid] < dot { low = mid + 1 } else { high = mid }
        }
        return low
    }
}

extension CausalContext: CustomStringConvertible {
    public var description: String {
        let vector = versionVector.map { "\($0.node):\($0.counter)" }.joined(separator: ",")
        let dots = cloud.map { "\($0.node):\($0.counter)" }.joined(separator: ",")
        return "⟨\(vector)\(dots.isEmpty ? "" : " + {\(dots)}")⟩"
    }
}
