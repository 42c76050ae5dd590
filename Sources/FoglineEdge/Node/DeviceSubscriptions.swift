import FoglineCore
public import FoglineWire

/// Which device topics a node subscribes to, given the device shards it owns (DESIGN.md "Local
/// quorum": each node serves only the devices of its shards).
///
/// Births and deaths of every device are always subscribed: they are rare, and they tell every
/// node which devices exist, so that a node taking over a shard knows whose topics to subscribe
/// to. A node that owns every shard (a single node, or the survivor of a site) subscribes to the
/// uplink channels with wildcards; otherwise it subscribes per device of its shards.
public struct DeviceSubscriptions: Sendable, Equatable {
    public let site: String
    public let shardCount: Int
    public private(set) var ownedShards: Set<Int> = []
    public private(set) var knownDevices: Set<String> = []

    /// Uplink channels subscribed per device (births and deaths are subscribed for all devices).
    static let perDeviceChannels: [FoglineTopic.DeviceChannel] = [.telemetry, .reported, .cmdAck]

    public init(site: String, shardCount: Int, knownDevices: some Sequence<String> = []) {
        self.site = site
        self.shardCount = shardCount
        self.knownDevices = Set(knownDevices)
    }

    public var ownsEveryShard: Bool { ownedShards.count == shardCount }

    public func owns(device: String) -> Bool {
        ownsEveryShard || ownedShards.contains(ShardPlacement.shard(ofDevice: device, shardCount: shardCount))
    }

    /// Records the shards now owned; returns whether the filters change.
    public mutating func setOwnedShards(_ shards: Set<Int>) -> Bool {
        guard shards != ownedShards else { return false }
        let before = filters
        ownedShards = shards
        return filters != before
    }

    /// Records a device seen in a birth; returns whether the filters change.
    public mutating func learn(device: String) -> Bool {
        guard knownDevices.insert(device).inserted else { return false }
        return !ownsEveryShard && owns(device: device)
    }

    /// The topic filters to be subscribed to now.
    public var filters: Set<String> {
        var filters: Set<String> = [
            FoglineTopic.deviceFilter(site: site, device: nil, channel: .birth),
            FoglineTopic.deviceFilter(site: site, device: nil, channel: .death),
        ]
        if ownsEveryShard {
            for channel in Self.perDeviceChannels { filters.insert(FoglineTopic.deviceFilter(site: site, device: nil, channel: channel)) }
        } else {
            for device in knownDevices where owns(device: device) {
                for channel in Self.perDeviceChannels {
                    filters.insert(FoglineTopic.deviceFilter(site: site, device: device, channel: channel))
                }
            }
        }
        return filters
    }

    /// The device a device topic is about, without a full parse (`fogline/v1/{site}/dev/{device}/…`).
    public static func device(inTopic topic: String) -> Substring? {
        let parts = topic.split(separator: "/", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count >= 6, parts[3] == "dev" else { return nil }
        return parts[4]
    }
}
