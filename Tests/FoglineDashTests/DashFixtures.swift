import FoglineDash
import FoglineWire

/// A fixed world for the snapshot and reducer tests: three sites (one healthy with an alarm, one
/// lagging with offline devices, one configured that never synced), drawn at a fixed time.
enum DashFixtures {
    /// 2025-11-22 08:26:40 UTC.
    static let now: UInt64 = 1_763_800_000_000

    static func minutesAgo(_ minutes: Double) -> UInt64 { now - UInt64(minutes * 60_000) }

    static let sites: [SiteSummary] = [
        SiteSummary(
            name: "plant-1",
            nodes: [
                NodeSummary(
                    name: "edge-a", lastSyncMs: now - 2_000,
                    status: NodeStatus(live: true, roles: ["cloud-uplink"], shards: 6, clockTrusted: true, hlcLagMs: 2_140)),
                NodeSummary(
                    name: "edge-b", lastSyncMs: minutesAgo(40),
                    status: NodeStatus(live: true, roles: [], shards: 5, clockTrusted: false, hlcLagMs: 2_600)),
                NodeSummary(name: "edge-c", lastSyncMs: nil, status: NodeStatus(live: false)),
            ],
            devicesTotal: 5, devicesOnline: 4, activeAlarms: 1,
            audit: AuditSummary(verified: true, nodes: 2, entries: 5)),
        SiteSummary(
            name: "greenhouse-2", nodes: [NodeSummary(name: "gh-edge", lastSyncMs: minutesAgo(7))], devicesTotal: 3, devicesOnline: 1),
        SiteSummary(name: "substation-3", nodes: [NodeSummary(name: "sub-a")]),
    ]

    static func windows(_ metric: String, _ values: [Double], endingMinutesAgo: Double = 1) -> [RollupWindow] {
        let last = minutesAgo(endingMinutesAgo) / 60_000 * 60_000
        return values.enumerated().map { index, value in
            let start = last - UInt64(values.count - 1 - index) * 60_000
            return RollupWindow(metric: metric, windowStartMs: start, count: 60, sum: value * 60, min: value - 0.4, max: value + 0.4, last: value)
        }
    }

    static let temperatures: [Double] = [20.1, 20.4, 20.9, 21.3, 21.8, 22.0, 21.7, 21.2, 20.8, 20.6, 20.9, 21.4, 21.9, 22.3, 22.1, 21.6]

    static let devices: [DeviceSummary] = [
        DeviceSummary(
            id: "th-1", online: true, profile: "thermostat", lastSeenMs: now - 1_200,
            reported: [TwinField(name: "mode", value: "heat"), TwinField(name: "setpoint", value: 21)],
            desired: [TwinField(name: "setpoint", value: 22.5)],
            telemetry: TelemetryStats(received: 5_204, gaps: 3), mainMetric: "temp", recent: windows("temp", temperatures)),
        DeviceSummary(
            id: "th-2", online: true, profile: "thermostat", lastSeenMs: now - 800,
            reported: [TwinField(name: "setpoint", value: 20)], desired: [TwinField(name: "setpoint", value: 20)],
            telemetry: TelemetryStats(received: 5_190, gaps: 0), mainMetric: "temp", recent: windows("temp", temperatures.reversed())),
        DeviceSummary(
            id: "valve-1", online: false, profile: "valve", activeAlarms: 1, lastSeenMs: minutesAgo(12),
            reported: [TwinField(name: "position", value: 40)],
            telemetry: TelemetryStats(received: 610, gaps: 12), mainMetric: "flow", recent: windows("flow", [3, 3.2, 2.9, 0.4], endingMinutesAgo: 12)),
        DeviceSummary(id: "meter-7", online: true, profile: "meter", lastSeenMs: now - 4_000, telemetry: TelemetryStats(received: 98, gaps: 0)),
        DeviceSummary(id: "gw-1", online: true, profile: nil),
    ]

    static let thermostat = DeviceDetail(
        id: "th-1", profile: "thermostat",
        registry: [TwinField(name: "fw", value: "1.4.2"), TwinField(name: "last_seen", value: .number(Double(now - 1_200))),
            TwinField(name: "profile", value: "thermostat")],
        online: true, onlineSinceMs: minutesAgo(95),
        reported: [TwinField(name: "mode", value: "heat"), TwinField(name: "setpoint", value: 21)],
        desired: [TwinField(name: "setpoint", value: 22.5)],
        telemetry: TelemetryStats(received: 5_204, gaps: 3, duplicates: 7, compacted: 0, lastSeq: 5_206),
        rollups: windows("temp", temperatures) + windows("humidity", [40, 41, 42]),
        commands: [CommandSummary(id: "c-9", name: "set_mode", status: "pending", createdMs: now - 4_000)])

    static let valve = DeviceDetail(
        id: "valve-1", profile: "valve", registry: [TwinField(name: "fw", value: "0.9"), TwinField(name: "last_seen", value: .number(Double(minutesAgo(12))))],
        online: false, onlineSinceMs: minutesAgo(12),
        reported: [TwinField(name: "position", value: 40)], desired: [],
        telemetry: TelemetryStats(received: 610, gaps: 12, duplicates: 0, compacted: 0, lastSeq: 621),
        rollups: windows("flow", [3, 3.2, 2.9, 0.4], endingMinutesAgo: 12), alarms: ["stuck", "low_flow"],
        commands: [
            CommandSummary(id: "c-1", name: "open_valve", status: "ok", createdMs: minutesAgo(30)),
            CommandSummary(
                id: "c-2", name: "close_valve", status: "timed_out", createdMs: minutesAgo(13),
                detail: "no cmd/ack after 3 attempts, 10000 ms apart"),
        ])

    static let audit: [AuditChainView] = [
        AuditChainView(node: "edge-a", verified: true, entries: [
            AuditEntryRow(index: 1, hlc: "\(now - 600_000).00000@1", kind: "lease", key: "role/cloud-uplink", detail: "holder=edge-a token=1"),
            AuditEntryRow(index: 2, hlc: "\(now - 590_000).00001@1", kind: "lease", key: "shard/0", detail: "holder=edge-a token=3"),
            AuditEntryRow(index: 3, hlc: "\(now - 30_000).00000@1", kind: "kv", key: "site/mode", detail: "version=4 value={\"mode\":\"auto\"}"),
        ]),
        AuditChainView(node: "edge-b", verified: false, problem: "entry 2: previous hash does not match", entries: [
            AuditEntryRow(index: 1, hlc: "\(now - 500_000).00000@2", kind: "lease", key: "shard/1", detail: "holder=edge-b token=2"),
            AuditEntryRow(index: 2, hlc: "\(now - 400_000).00000@2", kind: "lease", key: "shard/4", detail: "holder=edge-b token=5"),
        ]),
    ]

    /// The state after a successful refresh with `views` open.
    static func state(_ views: [DashView] = [.sites], ascii: Bool = false) -> DashState {
        var state = DashState(aggregator: "http://127.0.0.1:8480", nowMs: now)
        state.glyphs = ascii ? .ascii : .unicode
        state.views = views
        let plan = state.fetchPlan
        var snapshot = DashSnapshot(plan: plan, fetchedAtMs: now, sites: sites, messagesPerSecond: 41.5)
        if let site = plan.site {
            snapshot.site = sites.first { $0.name == site }
            snapshot.devices = site == "plant-1" ? devices : []
            if let device = plan.device { snapshot.device = device == "valve-1" ? valve : thermostat }
            if plan.audit { snapshot.audit = audit }
        }
        state.apply(snapshot)
        if case .device(_, let device)? = views.last { state.selectedDevice = device }
        return state
    }
}
