/// Where devices live: each device hashes to one of a fixed number of shards, and each shard
/// ranks the site's members by rendezvous (highest-random-weight) hashing.
///
/// Both use `StableHasher`, so every node, process and platform computes the same placement
/// without coordination. Rendezvous hashing moves only what it must: removing a member moves
/// just the shards it ranked first, and adding it back moves just those back.
public enum ShardPlacement {
    /// The shard (in `0..<shardCount`) of the device with this id.
    public static func shard(ofDevice device: String, shardCount: Int) -> Int {
        precondition(shardCount > 0, "shardCount must be positive")
        // Modulo bias is below shardCount / 2^64: negligible.
        return Int(device.stableHash % UInt64(shardCount))
    }

    /// `members` ordered by preference for `shard`: the first live one should own it, the
    /// next ones take over in turn. Duplicates are dropped; ties (astronomically rare) break by
    /// name so the order is total.
    public static func preferredOwners(shard: Int, members: [String]) -> [String] {
        let weighted = Set(members).map { (member: $0, weight: weight(shard: shard, member: $0)) }
        return weighted.sorted { ($0.weight, $1.member) > ($1.weight, $0.member) }.map(\.member)
    }

    /// The member that should own `shard`: the most preferred one (`nil` if there are none).
    public static func owner(shard: Int, members: [String]) -> String? {
        preferredOwners(shard: shard, members: members).first
    }

    /// The rendezvous weight of `member` for `shard`.
    static func weight(shard: Int, member: String) -> UInt64 {
        var hasher = StableHasher()
        hasher.combine(member)
        hasher.combine(UInt64(bitPattern: Int64(shard)))
        return hasher.finalize()
    }
}
