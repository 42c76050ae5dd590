/// The identity of a replica that writes to the site state: an edge node or a cloud aggregator.
///
/// Node names (`[A-Za-z0-9_.-]{1,64}`, from the config) are hashed to 64 bits so that timestamps,
/// dots and version vectors stay fixed-size. The hash is stable across builds, machines and
/// releases (FNV-1a followed by a SplitMix64 finaliser); a site's config check rejects the
/// astronomically unlikely case of two member names with the same id.
public struct NodeID: Hashable, Comparable, Sendable {
    public let rawValue: UInt64

    @inlinable
    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// The stable id of the node called `name`.
    public init(name: String) {
        var hasher = StableHasher()
        hasher.combineBytes(of: name)
        self.rawValue = hasher.finalize()
    }

    @inlinable
    public static func < (lhs: NodeID, rhs: NodeID) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}

extension NodeID: CustomStringConvertible {
    /// Sixteen lowercase hex digits.
    public var description: String {
        let hex = String(rawValue, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Parses the sixteen-hex-digit form printed by `description`.
    public init?(hex: some StringProtocol) {
        guard hex.utf8.count == 16, let value = UInt64(hex, radix: 16) else { return nil }
        self.rawValue = value
    }
}
