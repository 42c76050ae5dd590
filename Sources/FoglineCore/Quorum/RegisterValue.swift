/// The value of one linearizable register (one key of the site's quorum store).
///
/// `version` counts successful changes (0: never written), which is what compare-and-set
/// compares. `writers` names the operations that produced the latest versions (newest first,
/// at most ``writerHistory``), so a proposer retrying after a lost reply or a duel can tell
/// whether its own change was chosen — even when others have written since — instead of
/// reporting a conflict with itself or giving up.
public struct RegisterValue: Hashable, Sendable {
    public enum Content: Hashable, Sendable {
        case absent
        /// A key-value entry: opaque bytes (the admin API stores JSON).
        case data([UInt8])
        case lease(LeaseRecord)
    }

    public var version: UInt64
    public var content: Content
    /// `writers[i]` wrote version `version - i`.
    public var writers: [OperationID]

    /// How many writers a value remembers.
    public static let writerHistory = 8

    public init(version: UInt64, content: Content, writers: [OperationID] = []) {
        self.version = version
        self.content = content
        self.writers = writers
    }

    /// The value after `writer` changes the content: the next version.
    public func changed(to content: Content, by writer: OperationID) -> RegisterValue {
        RegisterValue(version: version + 1, content: content, writers: Array(([writer] + writers).prefix(Self.writerHistory)))
    }

    /// Who wrote `version`: nil when unknown (never written, or too long ago to remember).
    public func writer(ofVersion version: UInt64) -> OperationID? {
        guard version <= self.version, version > 0 else { return nil }
        let back = self.version - version
        return back < UInt64(writers.count) ? writers[Int(back)] : nil
    }

    /// The state of a key nobody has written.
    public static let initial = RegisterValue(version: 0, content: .absent)

    public var lease: LeaseRecord? {
        if case .lease(let record) = content { record } else { nil }
    }
}

/// Identifies one client operation across the site and across restarts: the proposing node, its
/// incarnation (restart count) and the operation's sequence within it.
public struct OperationID: Hashable, Sendable, CustomStringConvertible {
    public var node: NodeID
    public var incarnation: UInt64
    public var sequence: UInt64

    public init(node: NodeID, incarnation: UInt64, sequence: UInt64) {
        self.node = node
        self.incarnation = incarnation
        self.sequence = sequence
    }

    public var description: String { "\(node)/\(incarnation)#\(sequence)" }
}
