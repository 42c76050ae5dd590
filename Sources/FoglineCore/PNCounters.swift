/// Named PN-counters (messages, rejects, energy, …). Each node keeps its own increments and
/// decrements per name; a counter's value is the sum over nodes. A node's cell only grows, and its
/// dot counter orders its updates, so the join keeps the cell with the higher dot.
public struct PNCounters: EntryDotStore {
    public struct Key: Hashable, Sendable {
        public var name: String
        public var node: NodeID

        public init(name: String, node: NodeID) {
            self.name = name
            self.node = node
        }
    }

    public struct Cell: Hashable, Sendable {
        public var increments: UInt64
        public var decrements: UInt64
        public var dotCounter: UInt64

        public init(increments: UInt64, decrements: UInt64, dotCounter: UInt64) {
            self.increments = increments
            self.decrements = decrements
            self.dotCounter = dotCounter
        }
    }

    public private(set) var cells: [Key: Cell] = [:]

    public init() {}

    public var isEmpty: Bool { cells.isEmpty }

    /// The counter's value: all increments minus all decrements, over every node.
    public func value(_ name: String) -> Int64 {
        var total: Int64 = 0
        for (key, cell) in cells where key.name == name {
            total &+= Int64(bitPattern: cell.increments &- cell.decrements)
        }
        return total
    }

    /// Every counter name with its value, sorted by name.
    public var values: [(name: String, value: Int64)] {
        var totals: [String: Int64] = [:]
        for (key, cell) in cells {
            totals[key.name, default: 0] &+= Int64(bitPattern: cell.increments &- cell.decrements)
        }
        return totals.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
    }

    /// Adds `amount` (negative to subtract) to `node`'s cell of `name` with the write's dot,
    /// returning the updated cell as a delta.
    public mutating func add(_ amount: Int64, to name: String, dot: Dot) -> PNCounters {
        let key = Key(name: name, node: dot.node)
        var cell = cells[key] ?? Cell(increments: 0, decrements: 0, dotCounter: 0)
        if amount >= 0 { cell.increments &+= UInt64(amount) } else { cell.decrements &+= amount.magnitude }
        cell.dotCounter = dot.counter
        cells[key] = cell
        var delta = PNCounters()
        delta.cells[key] = cell
        return delta
    }

    /// Joins one cell.
    public mutating func insert(_ cell: Cell, for key: Key) {
        if let current = cells[key], current.dotCounter >= cell.dotCounter { return }
        cells[key] = cell
    }

    public func forEachDot(_ body: (Dot) -> Void) {
        for (key, cell) in cells { body(Dot(node: key.node, counter: cell.dotCounter)) }
    }

    public func entries(where isIncluded: (Dot) -> Bool) -> PNCounters? {
        var result = PNCounters()
        for (key, cell) in cells where isIncluded(Dot(node: key.node, counter: cell.dotCounter)) {
            result.cells[key] = cell
        }
        return result.isEmpty ? nil : result
    }

    public mutating func merge(_ other: PNCounters, otherContext: CausalContext, ownContext: CausalContext) {
        for (key, cell) in other.cells { insert(cell, for: key) }
    }
}
