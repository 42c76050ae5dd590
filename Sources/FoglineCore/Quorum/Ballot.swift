/// A CASPaxos ballot number: totally ordered by `(counter, node)`, so two proposers never use
/// the same ballot and a proposer that sees a higher one can always pick a higher one still.
public struct Ballot: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var counter: UInt64
    public var node: NodeID

    public init(counter: UInt64, node: NodeID) {
        self.counter = counter
        self.node = node
    }

    /// Lower than every ballot a proposer issues (counters start at 1).
    public static let zero = Ballot(counter: 0, node: NodeID(rawValue: 0))

    public static func < (lhs: Ballot, rhs: Ballot) -> Bool {
        (lhs.counter, lhs.node) < (rhs.counter, rhs.node)
    }

    public var description: String { "\(counter).\(node)" }
}
