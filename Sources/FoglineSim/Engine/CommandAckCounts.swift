/// Command acks by status.
public struct CommandAckCounts: Sendable, Hashable, Codable {
    /// Acks with status `ok`.
    public var ok = 0
    /// Acks with status `rejected`.
    public var rejected = 0
    /// Acks with status `failed`.
    public var failed = 0

    /// No acks.
    public init() {}

    /// All acks.
    public var total: Int { ok + rejected + failed }

    /// Adds another set of counts.
    public mutating func add(_ other: CommandAckCounts) {
        ok += other.ok
        rejected += other.rejected
        failed += other.failed
    }
}
