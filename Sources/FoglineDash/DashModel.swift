public import FoglineWire

// What the dashboard knows of the aggregator: plain values parsed from its HTTP API
// (README, "HTTP API"). Absent fields stay `nil` and are shown as `?`, never invented.

/// What the site's uplink holder last said about a node (sent with its sync hello).
public struct NodeStatus: Equatable, Sendable {
    /// Whether the holder's failure detector considers the node live.
    public var live: Bool?
    /// Roles the node holds (`cloud-uplink`, …).
    public var roles: [String]?
    /// Device shards the node owns.
    public var shards: Int?
    /// Whether the node's clock is trusted (known for the holder only).
    public var clockTrusted: Bool?
    /// How far the node's HLC was behind the aggregator's wall clock when its status arrived
    /// (negative: ahead); known for the holder only.
    public var hlcLagMs: Int64?

    public init(live: Bool? = nil, roles: [String]? = nil, shards: Int? = nil, clockTrusted: Bool? = nil, hlcLagMs: Int64? = nil) {
        self.live = live
        self.roles = roles
        self.shards = shards
        self.clockTrusted = clockTrusted
        self.hlcLagMs = hlcLagMs
    }
}

/// A node of a site: when it last synced and, when known, its status.
public struct NodeSummary: Equatable, Sendable {
    public var name: String
    public var lastSyncMs: UInt64?
    public var status: NodeStatus?

    public init(name: String, lastSyncMs: UInt64? = nil, status: NodeStatus? = nil) {
        self.name = name
        self.lastSyncMs = lastSyncMs
        self.status = status
    }
}

/// Whether a site's audit chains verify (`GET /v1/sites/{site}`).
public struct AuditSummary: Equatable, Sendable {
    public var verified: Bool
    public var nodes: Int
    public var entries: Int

    public init(verified: Bool, nodes: Int, entries: Int) {
        self.verified = verified
        self.nodes = nodes
        self.entries = entries
    }
}

/// A site as `GET /v1/sites` (and, with ``audit``, `GET /v1/sites/{site}`) shows it.
public struct SiteSummary: Equatable, Sendable {
    public var name: String
    public var nodes: [NodeSummary]
    public var devicesTotal: Int
    public var devicesOnline: Int
    public var activeAlarms: Int
    public var audit: AuditSummary?

    public init(
        name: String, nodes: [NodeSummary] = [], devicesTotal: Int = 0, devicesOnline: Int = 0, activeAlarms: Int = 0,
        audit: AuditSummary? = nil
    ) {
        self.name = name
        self.nodes = nodes
        self.devicesTotal = devicesTotal
        self.devicesOnline = devicesOnline
        self.activeAlarms = activeAlarms
        self.audit = audit
    }

    /// The node that syncs: the one with the latest contact.
    public var uplinkHolder: NodeSummary? {
        nodes.filter { $0.lastSyncMs != nil }.max { ($0.lastSyncMs!, $1.name) < ($1.lastSyncMs!, $0.name) }
    }

    /// The site's last sync (its uplink holder's).
    public var lastSyncMs: UInt64? { uplinkHolder?.lastSyncMs }

    /// Live nodes, when the site has reported its members' health; `nil` otherwise.
    public var nodesUp: Int? {
        let known = nodes.compactMap { $0.status?.live }
        return known.isEmpty ? nil : known.filter { $0 }.count
    }
}

/// A field of a twin map: name and JSON scalar value.
public struct TwinField: Equatable, Sendable {
    public var name: String
    public var value: JSONValue

    public init(name: String, value: JSONValue) {
        self.name = name
        self.value = value
    }
}

/// One row of the reported-versus-desired comparison.
public struct TwinComparison: Equatable, Sendable {
    public var name: String
    public var reported: JSONValue?
    public var desired: JSONValue?

    /// A desired value the device has not reported (yet).
    public var isPending: Bool { desired != nil && desired != reported }
}

/// Both twin maps of a device, compared field by field.
public func compareTwin(reported: [TwinField], desired: [TwinField]) -> [TwinComparison] {
    var names = reported.map(\.name)
    for field in desired where !names.contains(field.name) { names.append(field.name) }
    return names.sorted().map { name in
        TwinComparison(
            name: name, reported: reported.first { $0.name == name }?.value, desired: desired.first { $0.name == name }?.value)
    }
}

/// A minute window of a metric's rollup.
public struct RollupWindow: Equatable, Sendable {
    public var metric: String
    public var windowStartMs: UInt64
    public var count: Int
    public var sum: Double
    public var min: Double
    public var max: Double
    public var last: Double

    public init(metric: String, windowStartMs: UInt64, count: Int, sum: Double, min: Double, max: Double, last: Double) {
        self.metric = metric
        self.windowStartMs = windowStartMs
        self.count = count
        self.sum = sum
        self.min = min
        self.max = max
        self.last = last
    }

    /// The window's mean (its `last` when it holds no reading).
    public var mean: Double { count > 0 ? sum / Double(count) : last }
}

/// Telemetry statistics the aggregator computed for a device.
public struct TelemetryStats: Equatable, Sendable {
    public var received: Int
    public var gaps: Int
    public var duplicates: Int?
    public var compacted: Int?
    public var lastSeq: Int?

    public init(received: Int, gaps: Int, duplicates: Int? = nil, compacted: Int? = nil, lastSeq: Int? = nil) {
        self.received = received
        self.gaps = gaps
        self.duplicates = duplicates
        self.compacted = compacted
        self.lastSeq = lastSeq
    }
}

/// A device as the dashboard's site view lists it (`GET /v1/sites/{site}/devices`).
public struct DeviceSummary: Equatable, Sendable {
    public var id: String
    public var online: Bool
    public var profile: String?
    public var activeAlarms: Int
    public var lastSeenMs: UInt64?
    public var reported: [TwinField]
    public var desired: [TwinField]
    public var telemetry: TelemetryStats?
    /// The main metric (the one with the most readings in its recent windows) and its windows.
    public var mainMetric: String?
    public var recent: [RollupWindow]

    public init(
        id: String, online: Bool, profile: String? = nil, activeAlarms: Int = 0, lastSeenMs: UInt64? = nil, reported: [TwinField] = [],
        desired: [TwinField] = [], telemetry: TelemetryStats? = nil, mainMetric: String? = nil, recent: [RollupWindow] = []
    ) {
        self.id = id
        self.online = online
        self.profile = profile
        self.activeAlarms = activeAlarms
        self.lastSeenMs = lastSeenMs
        self.reported = reported
        self.desired = desired
        self.telemetry = telemetry
        self.mainMetric = mainMetric
        self.recent = recent
    }

    public var twin: [TwinComparison] { compareTwin(reported: reported, desired: desired) }
    public var pendingCount: Int { twin.filter(\.isPending).count }
}

/// One device in full (`GET /v1/sites/{site}/devices/{device}`).
public struct DeviceDetail: Equatable, Sendable {
    public var id: String
    public var profile: String?
    public var registry: [TwinField]
    public var online: Bool
    public var onlineSinceMs: UInt64?
    public var reported: [TwinField]
    public var desired: [TwinField]
    public var telemetry: TelemetryStats?
    public var rollups: [RollupWindow]
    public var alarms: [String]
    /// Recent commands, oldest first (the device's replicated command history).
    public var commands: [CommandSummary]

    public init(
        id: String, profile: String? = nil, registry: [TwinField] = [], online: Bool = false, onlineSinceMs: UInt64? = nil,
        reported: [TwinField] = [], desired: [TwinField] = [], telemetry: TelemetryStats? = nil, rollups: [RollupWindow] = [],
        alarms: [String] = [], commands: [CommandSummary] = []
    ) {
        self.id = id
        self.profile = profile
        self.registry = registry
        self.online = online
        self.onlineSinceMs = onlineSinceMs
        self.reported = reported
        self.desired = desired
        self.telemetry = telemetry
        self.rollups = rollups
        self.alarms = alarms
        self.commands = commands
    }

    public var twin: [TwinComparison] { compareTwin(reported: reported, desired: desired) }

    /// Metrics with rollups, the main one (most readings) first.
    public var metrics: [String] { mainMetricOrder(rollups) }

    /// The registry's `last_seen` (edge wall milliseconds).
    public var lastSeenMs: UInt64? { registry.first { $0.name == "last_seen" }?.value.exactIntegerValue.map { UInt64(max(0, $0)) } }
}

/// A command sent to a device and its status.
public struct CommandSummary: Equatable, Sendable {
    public var id: String
    public var name: String
    /// `pending`, `ok`, `rejected`, `failed` or `timed_out`.
    public var status: String
    /// When it was issued (edge wall milliseconds).
    public var createdMs: UInt64?
    /// The device's `detail`, or why the edge gave up.
    public var detail: String?

    public init(id: String, name: String, status: String, createdMs: UInt64? = nil, detail: String? = nil) {
        self.id = id
        self.name = name
        self.status = status
        self.createdMs = createdMs
        self.detail = detail
    }
}

/// Metrics of `rollups` ordered by readings (most first), then name.
func mainMetricOrder(_ rollups: [RollupWindow]) -> [String] {
    var counts: [String: Int] = [:]
    for window in rollups { counts[window.metric, default: 0] += window.count }
    return counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map(\.key)
}

/// One entry of a node's audit chain.
public struct AuditEntryRow: Equatable, Sendable {
    public var index: Int
    public var hlc: String
    public var kind: String
    public var key: String
    public var detail: String

    public init(index: Int, hlc: String, kind: String, key: String, detail: String) {
        self.index = index
        self.hlc = hlc
        self.kind = kind
        self.key = key
        self.detail = detail
    }
}

/// A node's stored audit chain and whether it verifies (`GET /v1/sites/{site}/audit`).
public struct AuditChainView: Equatable, Sendable {
    public var node: String
    public var verified: Bool
    public var problem: String?
    public var entries: [AuditEntryRow]

    public init(node: String, verified: Bool, problem: String? = nil, entries: [AuditEntryRow] = []) {
        self.node = node
        self.verified = verified
        self.problem = problem
        self.entries = entries
    }
}
