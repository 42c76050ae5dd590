import FoglineWire

/// Which topics of a site's broker each account may use (DESIGN.md, "MQTT contract with
/// devices"), written as a Mosquitto `acl_file`.
///
/// A device publishes only its own uplink channels (`birth`, `death` — its will —, `telemetry`,
/// `reported`, `cmd/ack`) and subscribes only to its own downlink channels (`desired`, `cmd`,
/// `replay`) and to the nodes' status. An edge node reads every device's uplink channels, writes
/// every device's downlink channels and its own status (its will too), and reads the nodes'
/// status. Anything not granted is denied: the broker drops a publish to another device's topic
/// and refuses (or never serves) a subscription to another device's downlink.
public enum BrokerAccessControl {
    public enum Access: String, Sendable {
        case read, write
    }

    public struct Rule: Sendable, Hashable {
        public var access: Access
        public var topic: String
    }

    public static func deviceRules(site: String, device: String) -> [Rule] {
        FoglineTopic.DeviceChannel.allCases.map { channel in
            Rule(access: channel.isFromDevice ? .write : .read, topic: FoglineTopic.device(site: site, device: device, channel).string)
        } + [Rule(access: .read, topic: FoglineTopic.nodeStatusFilter(site: site))]
    }

    public static func nodeRules(site: String, node: String) -> [Rule] {
        FoglineTopic.DeviceChannel.allCases.map { channel in
            Rule(access: channel.isFromDevice ? .read : .write, topic: FoglineTopic.deviceFilter(site: site, device: nil, channel: channel))
        } + [
            Rule(access: .write, topic: FoglineTopic.nodeStatus(site: site, node: node).string),
            Rule(access: .read, topic: FoglineTopic.nodeStatusFilter(site: site)),
        ]
    }

    /// The acl_file: a `user` block per node, then per device. Names are checked by the caller
    /// (``SiteProvisioning``): they cannot contain spaces, `+`, `#` or newlines.
    public static func aclFile(site: String, nodes: [String], devices: [String]) -> String {
        var lines = [
            "# Mosquitto ACL for site \(site), written by `fogline-edge provision`; regenerate it rather than edit it.",
            "# Edge nodes read devices' uplink and write their downlink; each device only its own topics.",
        ]
        func block(_ user: String, _ rules: [Rule]) {
            lines.append("")
            lines.append("user \(user)")
            for rule in rules { lines.append("topic \(rule.access.rawValue) \(rule.topic)") }
        }
        for node in nodes { block(node, nodeRules(site: site, node: node)) }
        for device in devices { block(device, deviceRules(site: site, device: device)) }
        return lines.joined(separator: "\n") + "\n"
    }
}
