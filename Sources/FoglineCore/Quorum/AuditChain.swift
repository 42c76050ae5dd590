/// A node's append-only, hash-chained log of decided values. The chain itself keeps only its
/// head; the entries it returns are for the caller to persist and ship (to the cloud, which
/// verifies them with `verify`).
public struct AuditChain: Sendable {
    /// Where a chain (or a verified stretch of one) continues from: the last entry's index,
    /// hash and timestamp.
    public struct Anchor: Hashable, Sendable {
        /// Index of the last entry (0 before the first).
        public var index: UInt64
        public var hash: AuditHash
        /// Timestamp of the last entry, if known; the next must be later.
        public var timestamp: HLCTimestamp?

        public init(index: UInt64, hash: AuditHash, timestamp: HLCTimestamp?) {
            self.index = index
            self.hash = hash
            self.timestamp = timestamp
        }

        /// The start of every chain.
        public static let genesis = Anchor(index: 0, hash: .zero, timestamp: nil)

        /// Continues after `entry` (trusting it: take it from a verified stretch).
        public init(after entry: AuditEntry) {
            self.init(index: entry.index, hash: entry.hash, timestamp: entry.timestamp)
        }
    }

    /// What `verify` found.
    public enum VerificationResult: Hashable, Sendable {
        case valid(Anchor)
        /// The first bad entry's `index` field (or expected index, for a missing one) and why.
        case invalid(at: UInt64, Failure)

        public var isValid: Bool {
            if case .valid = self { return true }
            return false
        }
    }

    public enum Failure: Hashable, Sendable {
        /// The entry's index is not one more than the one before.
        case nonConsecutiveIndex(expected: UInt64, found: UInt64)
        /// Its `previousHash` is not the hash of the entry before.
        case brokenLink
        /// Its `hash` is not the hash of its contents.
        case badHash
        /// Its timestamp is not later than the one before.
        case timeWentBackwards
    }

    public let node: String
    public private(set) var head: Anchor

    /// A chain for `node`, new or resuming after its last persisted entry.
    public init(node: String, resumingFrom head: Anchor = .genesis) {
        self.node = node
        self.head = head
    }

    /// Appends a decision. `timestamp` must be later than the previous entry's (an HLC's
    /// `now()` always is).
    public mutating func append(at timestamp: HLCTimestamp, kind: String, key: String, detail: String) -> AuditEntry {
        precondition(head.timestamp.map { timestamp > $0 } ?? true, "audit timestamps must increase")
        let entry = AuditEntry(
            index: head.index + 1, node: node, timestamp: timestamp, kind: kind, key: key, detail: detail,
            previousHash: head.hash)
        head = Anchor(after: entry)
        return entry
    }

    /// Checks that `entries` continue the chain from `anchor`: consecutive indices, each linked
    /// to the hash before, each hash right, timestamps increasing. Reports the first failure, or
    /// the anchor after the last entry (to verify the next stretch from).
    public static func verify(_ entries: [AuditEntry], from anchor: Anchor = .genesis) -> VerificationResult {
        var head = anchor
        for entry in entries {
            guard entry.index == head.index + 1 else {
                return .invalid(at: head.index + 1, .nonConsecutiveIndex(expected: head.index + 1, found: entry.index))
            }
            guard entry.previousHash == head.hash else { return .invalid(at: entry.index, .brokenLink) }
            guard entry.hash == entry.computedHash else { return .invalid(at: entry.index, .badHash) }
            if let previous = head.timestamp, !(entry.timestamp > previous) {
                return .invalid(at: entry.index, .timeWentBackwards)
            }
            head = Anchor(after: entry)
        }
        return .valid(head)
    }
}
