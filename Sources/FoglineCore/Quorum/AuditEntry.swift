import Crypto

/// One decided value in a node's audit chain. Its `hash` covers every other field, including
/// the previous entry's hash, so changing, dropping, reordering or inserting any entry breaks
/// the chain from that point.
public struct AuditEntry: Hashable, Sendable {
    /// Position in the chain, from 1.
    public var index: UInt64
    /// The node that keeps the chain.
    public var node: String
    /// When the node recorded the decision; strictly increasing along the chain.
    public var timestamp: HLCTimestamp
    /// What was decided: "kv", "lease.acquire", "lease.release", "role", "shard", "job", ….
    public var kind: String
    public var key: String
    /// Kind-specific detail (holder, token, version, …).
    public var detail: String
    /// The hash of the entry before (`AuditHash.zero` for the first).
    public var previousHash: AuditHash
    public var hash: AuditHash

    /// An entry as read back (from storage or the network): `hash` is taken as given, and
    /// `AuditChain.verify` checks it.
    public init(
        index: UInt64, node: String, timestamp: HLCTimestamp, kind: String, key: String, detail: String,
        previousHash: AuditHash, hash: AuditHash
    ) {
        self.index = index
        self.node = node
        self.timestamp = timestamp
        self.kind = kind
        self.key = key
        self.detail = detail
        self.previousHash = previousHash
        self.hash = hash
    }

    /// A new entry, hashed.
    public init(
        index: UInt64, node: String, timestamp: HLCTimestamp, kind: String, key: String, detail: String,
        previousHash: AuditHash
    ) {
        self.init(
            index: index, node: node, timestamp: timestamp, kind: kind, key: key, detail: detail,
            previousHash: previousHash, hash: .zero)
        hash = computedHash
    }

    /// SHA-256 of `canonicalBytes`: what `hash` must be.
    public var computedHash: AuditHash {
        AuditHash(unchecked: Array(SHA256.hash(data: canonicalBytes)))
    }

    /// The unambiguous encoding that is hashed: a version tag, then every field but `hash` in a
    /// fixed order; integers big-endian, strings as a 4-byte big-endian length and UTF-8 bytes,
    /// so no two different entries encode the same.
    public var canonicalBytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(96 + node.utf8.count + kind.utf8.count + key.utf8.count + detail.utf8.count)
        Self.append(Self.formatTag, to: &bytes)
        Self.append(index, to: &bytes)
        Self.append(node, to: &bytes)
        Self.append(timestamp.logical, to: &bytes)
        Self.append(timestamp.node.rawValue, to: &bytes)
        Self.append(kind, to: &bytes)
        Self.append(key, to: &bytes)
        Self.append(detail, to: &bytes)
        bytes += previousHash.bytes
        return bytes
    }

    /// Names the encoding, so a future format cannot collide with this one.
    static let formatTag = "fogline.audit.v1"

    private static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    private static func append(_ text: String, to bytes: inout [UInt8]) {
        let count = UInt32(text.utf8.count)
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: count >> UInt32(shift))) }
        bytes += text.utf8
    }
}
