public import FoglineWire

/// An answer of the aggregator that does not have the shape the dashboard reads.
public struct DashDataError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Reading the aggregator's JSON (README, "HTTP API") into the dashboard's model. Members the
/// dashboard does not know are ignored; members it knows but the aggregator does not send (an
/// older aggregator, a node that never sent its status) stay `nil`.
public enum DashJSON {
    /// `GET /v1/sites`.
    public static func sites(_ json: JSONValue) throws(DashDataError) -> [SiteSummary] {
        guard let elements = json.arrayElements else { throw DashDataError("GET /v1/sites did not answer a JSON array") }
        var sites: [SiteSummary] = []
        for element in elements { sites.append(try site(element)) }
        return sites
    }

    /// One site of `GET /v1/sites`, or `GET /v1/sites/{site}`.
    public static func site(_ json: JSONValue) throws(DashDataError) -> SiteSummary {
        guard let name = json["site"]?.stringValue else { throw DashDataError("a site without a `site` name") }
        var summary = SiteSummary(name: name)
        summary.nodes = (json["nodes"]?.arrayElements ?? []).compactMap(node)
        summary.devicesTotal = int(json["devices"]?["total"]) ?? 0
        summary.devicesOnline = int(json["devices"]?["online"]) ?? 0
        summary.activeAlarms = int(json["activeAlarms"]) ?? 0
        if let audit = json["audit"], let verified = audit["verified"]?.boolValue {
            summary.audit = AuditSummary(verified: verified, nodes: int(audit["nodes"]) ?? 0, entries: int(audit["entries"]) ?? 0)
        }
        return summary
    }

    static func node(_ json: JSONValue) -> NodeSummary? {
        guard let name = json["node"]?.stringValue else { return nil }
        var node = NodeSummary(name: name, lastSyncMs: uint(json["lastSyncMs"]))
        if let status = json["status"], status.objectMembers != nil {
            node.status = NodeStatus(
                live: status["live"]?.boolValue,
                roles: status["roles"]?.arrayElements?.compactMap(\.stringValue),
                shards: int(status["shards"]),
                clockTrusted: status["clockTrusted"]?.boolValue,
                hlcLagMs: status["hlcLagMs"]?.exactIntegerValue)
        }
        return node
    }

    /// `GET /v1/sites/{site}/devices`.
    public static func devices(_ json: JSONValue) throws(DashDataError) -> [DeviceSummary] {
        guard let elements = json.arrayElements else { throw DashDataError("GET /v1/sites/{site}/devices did not answer a JSON array") }
        return elements.compactMap { element in
            guard let id = element["id"]?.stringValue else { return nil }
            let recent = rollups(element["recent"])
            return DeviceSummary(
                id: id, online: element["online"]?.boolValue ?? false, profile: element["profile"]?.stringValue,
                activeAlarms: int(element["activeAlarms"]) ?? 0, lastSeenMs: uint(element["lastSeenMs"]),
                reported: fields(element["reported"]), desired: fields(element["desired"]),
                telemetry: telemetry(element["telemetry"]), mainMetric: element["mainMetric"]?.stringValue ?? recent.first?.metric,
                recent: recent)
        }
    }

    /// `GET /v1/sites/{site}/devices/{device}`.
    public static func device(_ json: JSONValue) throws(DashDataError) -> DeviceDetail {
        guard let id = json["id"]?.stringValue else { throw DashDataError("a device without an `id`") }
        let commands = (json["commands"]?.arrayElements ?? []).compactMap { command -> CommandSummary? in
            guard let id = command["id"]?.stringValue else { return nil }
            return CommandSummary(
                id: id, name: command["name"]?.stringValue ?? "?", status: command["status"]?.stringValue ?? "?",
                createdMs: uint(command["created"]), detail: command["detail"]?.stringValue)
        }
        return DeviceDetail(
            id: id, profile: json["profile"]?.stringValue, registry: fields(json["registry"]),
            online: json["presence"]?["online"]?.boolValue ?? false, onlineSinceMs: uint(json["presence"]?["since"]),
            reported: fields(json["reported"]), desired: fields(json["desired"]), telemetry: telemetry(json["telemetry"]),
            rollups: rollups(json["rollups"]), alarms: (json["alarms"]?.arrayElements ?? []).compactMap(\.stringValue),
            commands: commands)
    }

    /// `GET /v1/sites/{site}/audit`.
    public static func audit(_ json: JSONValue) throws(DashDataError) -> [AuditChainView] {
        guard let nodes = json["nodes"]?.arrayElements else { throw DashDataError("GET /v1/sites/{site}/audit did not answer {nodes: […]}") }
        return nodes.compactMap { node in
            guard let name = node["node"]?.stringValue else { return nil }
            let entries = (node["entries"]?.arrayElements ?? []).map { entry in
                AuditEntryRow(
                    index: int(entry["index"]) ?? 0, hlc: entry["hlc"]?.stringValue ?? "?", kind: entry["kind"]?.stringValue ?? "?",
                    key: entry["key"]?.stringValue ?? "", detail: entry["detail"]?.stringValue ?? "")
            }
            return AuditChainView(
                node: name, verified: node["verified"]?.boolValue ?? false, problem: node["problem"]?.stringValue, entries: entries)
        }
    }

    /// The sum of `fogline_cloud_sync_frames_total` over its kinds in a `GET /metrics` answer:
    /// every sync frame the aggregator received (the dashboard's messages per second).
    public static func syncFramesReceived(metrics text: String) -> Double? {
        var total: Double? = nil
        for line in text.split(separator: "\n") where line.hasPrefix("fogline_cloud_sync_frames_total") {
            guard let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            total = (total ?? 0) + value
        }
        return total
    }

    // MARK: Pieces

    static func fields(_ json: JSONValue?) -> [TwinField] {
        (json?.objectMembers ?? []).map { TwinField(name: $0.key, value: $0.value) }
    }

    static func telemetry(_ json: JSONValue?) -> TelemetryStats? {
        guard let json, let received = int(json["received"]) else { return nil }
        return TelemetryStats(
            received: received, gaps: int(json["gaps"]) ?? 0, duplicates: int(json["duplicates"]), compacted: int(json["compacted"]),
            lastSeq: int(json["lastSeq"]))
    }

    static func rollups(_ json: JSONValue?) -> [RollupWindow] {
        (json?.arrayElements ?? []).compactMap { window in
            guard let metric = window["metric"]?.stringValue, let start = uint(window["window_start_ms"]) else { return nil }
            return RollupWindow(
                metric: metric, windowStartMs: start, count: int(window["count"]) ?? 0, sum: window["sum"]?.numberValue ?? 0,
                min: window["min"]?.numberValue ?? 0, max: window["max"]?.numberValue ?? 0, last: window["last"]?.numberValue ?? 0)
        }
    }

    static func int(_ json: JSONValue?) -> Int? { json?.exactIntegerValue.map { Int($0) } }

    static func uint(_ json: JSONValue?) -> UInt64? {
        guard let value = json?.exactIntegerValue, value >= 0 else { return nil }
        return UInt64(value)
    }
}
