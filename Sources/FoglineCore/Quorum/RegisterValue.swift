/// The value of one linearizable register (one key of the site's quorum store).
///
/// `version` counts successful changes (0: never written), which is what compare-and-set
/// compares. `writer` names the operation that produced this value, so a proposer retrying after
/// a lost reply recognises its own write instead of reporting a conflict with itself.
public struct RegisterValue: Hashable, Sendable {
    public enum Content: Hashable, Sendable {
        case absent
        /// A key-value entry: opaque bytes (the admin API stores JSON).
        case data([UInt8])
        case lease(LeaseRecord)
    }

    public var version: UInt64
    public var content: Content
    public var writer: OperationID?

    public init(version: UInt64, content: Content, writer: OperationID? = nil) {
        self.version = version
        self.content = content
        self.writer = writer
    }

    /// The state of a key nobody has written.
    public static let initial = RegisterValue(version: 0, content: .absent)

    public var lease: LeaseRecord? {
        if case .lease(let record) = content { record } else { nil }
    }
}

/// Identifies one client operation across the site: the proposing node and its local sequence.
public struct OperationID: Hashable, Sendable, CustomStringConvertible {
    public var node: NodeID
    public var sequence: UInt64

    public init(node: NodeID, sequence: UInt64) {
        self.node = node
        self.sequence = sequence
    }

    public var description: String { "\(node)#\(sequence)" }
}
