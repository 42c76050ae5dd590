import FoglineCore
public import FoglineWire

/// An HTTP response of this API (shared with the other JSON API).
public typealias CloudResponse = APIResponse

/// The cloud HTTP API (DESIGN.md, "Commands, APIs and configuration"): reads render the store's
/// view of each site, `PUT …/desired` writes through ``CloudWriter`` and pushes the write to the
/// site's nodes. Independent of the HTTP server, so tests call ``handle(method:path:body:)``
/// directly; ``CloudHTTPServer`` serves it.
///
/// JSON follows the edge admin API: twin fields as `{name: value}` with JSON scalars, HLC
/// timestamps as their text form (`HLCTimestamp.description`), times in Unix milliseconds.
public struct CloudAPI: Sendable {
    let store: any CloudStore
    let writer: CloudWriter
    let metrics: CloudMetrics
    /// Sites from the configuration (listed even before their first sync) and their nodes.
    let configuredNodes: [String: [String]]
    /// Called after a `desired` write is durable (the sync service pushes it to the site's nodes).
    let afterWrite: @Sendable (String) async -> Void

    /// How many of the newest rollup windows `GET …/devices/{device}` shows per metric.
    public static let recentWindows = 60

    /// The API over `store`; `desired` writes go through `writer`, then `afterWrite(site)`.
    public init(
        store: any CloudStore, writer: CloudWriter, metrics: CloudMetrics, configuredNodes: [String: [String]] = [:],
        afterWrite: @escaping @Sendable (String) async -> Void = { _ in }
    ) {
        self.store = store
        self.writer = writer
        self.metrics = metrics
        self.configuredNodes = configuredNodes
        self.afterWrite = afterWrite
    }

    /// Handles one request. `path` may carry a query, which is ignored.
    public func handle(method: String, path: String, body: [UInt8] = []) async -> CloudResponse {
        let segments = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
            .split(separator: "/").map(String.init)
        do {
            switch (method, segments.count) {
            case ("GET", 1) where segments[0] == "healthz":
                return .json(200, .object([(key: "status", value: .string("ok"))]))
            case ("GET", 1) where segments[0] == "metrics":
                return CloudResponse(status: 200, contentType: "text/plain; version=0.0.4", body: metrics.render())
            case ("GET", 2) where segments == ["v1", "sites"]:
                var sites: [JSONValue] = []
                for site in try await siteNames() { sites.append(try await siteJSON(site, detailed: false)) }
                return .json(200, .array(sites))
            case (_, 3...) where segments[0] == "v1" && segments[1] == "sites":
                return try await siteRoute(method: method, site: segments[2], rest: Array(segments.dropFirst(3)), body: body)
            case (_, _) where ["v1", "healthz", "metrics"].contains(segments.first ?? ""):
                return .error(405, "\(method) \(path) is not supported; see the README's cloud API table")
            default:
                return .error(404, "no such endpoint: \(path); the API lives under /v1/sites (see the README's cloud API table)")
            }
        } catch {
            return .error(503, "the store could not answer (\(error)); check the database connection and try again")
        }
    }

    private func siteRoute(method: String, site: String, rest: [String], body: [UInt8]) async throws -> CloudResponse {
        guard try await siteNames().contains(site) else {
            return .error(404, "no site \(site); GET /v1/sites lists the sites that have synced or are configured")
        }
        switch (method, rest.count) {
        case ("GET", 0):
            return .json(200, try await siteJSON(site, detailed: true))
        case ("GET", 1) where rest[0] == "devices":
            let view = try await store.view(site: site)
            let telemetry = try await store.telemetry(site: site)
            let rollups = Self.rollupsByDevice(view)
            return .json(200, .array(Self.deviceIDs(view).map {
                Self.deviceSummary($0, view, telemetry: telemetry[$0], rollups: rollups[$0] ?? [:])
            }))
        case ("GET", 1) where rest[0] == "audit":
            return .json(200, try await auditJSON(site))
        case ("GET", 2) where rest[0] == "devices":
            let view = try await store.view(site: site)
            guard Self.deviceIDs(view).contains(rest[1]) else { return Self.unknownDevice(rest[1], site) }
            let telemetry = try await store.telemetry(site: site)[rest[1]]
            return .json(200, Self.deviceJSON(rest[1], view, telemetry: telemetry))
        case ("PUT", 3) where rest[0] == "devices" && rest[2] == "desired":
            return try await setDesired(site: site, device: rest[1], body)
        default:
            return .error(405, "\(method) on /v1/sites/\(site)/\(rest.joined(separator: "/")) is not supported; see the README's cloud API table")
        }
    }

    // MARK: Sites

    private func siteNames() async throws -> [String] {
        Set(try await store.sites()).union(configuredNodes.keys).sorted()
    }

    private func siteJSON(_ site: String, detailed: Bool) async throws -> JSONValue {
        let overview = try await store.overview(site: site)
        let contacts = try await store.contacts(site: site)
        let stored = try await store.siteStatus(site: site)
        let status = stored.flatMap { try? Fogline_V1_SiteStatus(encoded: $0.status) }
        var nodeNames = Set(contacts.keys).union(configuredNodes[site] ?? [])
        if let stored, let status {
            nodeNames.insert(stored.node)
            nodeNames.formUnion(status.members.map(\.node))
        }
        let nodes: JSONValue = .array(nodeNames.sorted().map { node in
            .object([
                (key: "node", value: .string(node)),
                (key: "lastSyncMs", value: contacts[node].map { .number(Double($0)) } ?? .null),
                (key: "status", value: stored.flatMap { stored in status.map { Self.nodeStatusJSON(node, stored, $0) } } ?? .null),
            ])
        })
        var members: [(key: String, value: JSONValue)] = [
            (key: "site", value: .string(site)),
            (key: "nodes", value: nodes),
            (key: "devices", value: .object([
                (key: "total", value: .number(Double(overview.devices.count))),
                (key: "online", value: .number(Double(overview.online.count))),
            ])),
            (key: "activeAlarms", value: .number(Double(overview.alarms.elements.count))),
            // Dots held: equal to an edge's `replica.dots` once the aggregator holds what it holds.
            (key: "replica", value: .object([(key: "dots", value: .number(Double(overview.context.dotCount)))])),
        ]
        if detailed {
            let audit = try await store.audit(site: site)
            let verified = audit.values.allSatisfy { AuditChain.verify($0).isValid }
            members.append((key: "audit", value: .object([
                (key: "verified", value: .bool(verified)),
                (key: "nodes", value: .number(Double(audit.count))),
                (key: "entries", value: .number(Double(audit.values.reduce(0) { $0 + $1.count }))),
            ])))
        }
        return .object(members)
    }

    /// What the site's latest status (sent by its uplink holder with a hello) says about `node`:
    /// everything about the sender itself; liveness and suspicion about the other members, with
    /// their roles, shards, clock trust and HLC as of their latest heartbeat to the sender (`null`
    /// before one arrived). A member's HLC lag is measured like the sender's, from its HLC to the
    /// aggregator's receipt, so it includes up to one heartbeat interval of staleness.
    static func nodeStatusJSON(_ node: String, _ stored: StoredSiteStatus, _ status: Fogline_V1_SiteStatus) -> JSONValue {
        let unknown: JSONValue = .null
        var members: [(key: String, value: JSONValue)]
        if node == stored.node {
            let lag = Int64(bitPattern: stored.receivedWallMilliseconds &- status.hlcPhysicalMs)
            members = [
                (key: "live", value: .bool(true)),
                (key: "roles", value: .array(status.roles.map(JSONValue.string))),
                (key: "shards", value: .number(Double(status.shardsOwned))),
                (key: "shardCount", value: .number(Double(status.shardCount))),
                (key: "clockTrusted", value: .bool(status.clockTrusted)),
                (key: "hlcLagMs", value: .number(Double(lag))),
                (key: "phi", value: unknown),
            ]
        } else if let member = status.members.first(where: { $0.node == node }) {
            let reported = member.reported
            let lag = Int64(bitPattern: stored.receivedWallMilliseconds &- member.hlcPhysicalMs)
            members = [
                (key: "live", value: .bool(member.live)),
                (key: "roles", value: reported ? .array(member.roles.map(JSONValue.string)) : unknown),
                (key: "shards", value: reported ? .number(Double(member.shardsOwned)) : unknown),
                (key: "shardCount", value: .number(Double(status.shardCount))),
                (key: "clockTrusted", value: reported ? .bool(member.clockTrusted) : unknown),
                (key: "hlcLagMs", value: reported ? .number(Double(lag)) : unknown),
                (key: "phi", value: .number(member.phi)),
            ]
        } else {
            return .null
        }
        members.append((key: "reportedBy", value: .string(stored.node)))
        members.append((key: "reportedAtMs", value: .number(Double(stored.receivedWallMilliseconds))))
        return .object(members)
    }

    private func auditJSON(_ site: String) async throws -> JSONValue {
        let audit = try await store.audit(site: site)
        return .object([
            (key: "site", value: .string(site)),
            (key: "nodes", value: .array(audit.keys.sorted().map { node in
                let entries = audit[node] ?? []
                var members: [(key: String, value: JSONValue)] = [(key: "node", value: .string(node))]
                switch AuditChain.verify(entries) {
                case .valid:
                    members.append((key: "verified", value: .bool(true)))
                case .invalid(let index, let failure):
                    members.append((key: "verified", value: .bool(false)))
                    members.append((key: "problem", value: .string("entry \(index): \(failure)")))
                }
                members.append((key: "entries", value: .array(entries.map(Self.auditEntryJSON))))
                return .object(members)
            })),
        ])
    }

    static func auditEntryJSON(_ entry: AuditEntry) -> JSONValue {
        .object([
            (key: "index", value: .number(Double(entry.index))),
            (key: "hlc", value: .string(entry.timestamp.description)),
            (key: "kind", value: .string(entry.kind)),
            (key: "key", value: .string(entry.key)),
            (key: "detail", value: .string(entry.detail)),
            (key: "previousHash", value: .string(entry.previousHash.description)),
            (key: "hash", value: .string(entry.hash.description)),
        ])
    }

    // MARK: Devices

    /// Every device the site's state mentions, sorted.
    static func deviceIDs(_ view: SiteState) -> [String] { SiteOverview(view).devices.sorted() }

    static func unknownDevice(_ device: String, _ site: String) -> CloudResponse {
        .error(404, "no device \(device) in site \(site); a device appears once an edge node has synced it (GET /v1/sites/\(site)/devices lists them)")
    }

    static func presenceJSON(_ device: String, _ view: SiteState) -> JSONValue {
        guard let presence = view.presence[device]?.value else {
            return .object([(key: "online", value: .bool(false)), (key: "since", value: .null)])
        }
        return .object([(key: "online", value: .bool(presence.online)), (key: "since", value: .number(Double(presence.sinceMilliseconds)))])
    }

    static func alarms(_ device: String, _ view: SiteState) -> [String] {
        view.alarms.elements.filter { $0.device == device }.map(\.code).sorted()
    }

    /// How many of the newest windows of its main metric `GET /v1/sites/{site}/devices` shows per device.
    public static let listedWindows = 30

    /// A device as `GET /v1/sites/{site}/devices` lists it: enough for a table row (the
    /// dashboard's site view) in one request per site: presence, last seen, both twin maps,
    /// telemetry counts, and the recent windows of its main metric (the one with the most
    /// readings in them; ties by name).
    static func deviceSummary(
        _ device: String, _ view: SiteState, telemetry: RawTelemetrySummary?,
        rollups: [String: [(windowStart: UInt64, summary: TelemetryRollups.Summary)]]
    ) -> JSONValue {
        let recent = rollups.mapValues { $0.suffix(listedWindows) }
        let main = recent.max { lhs, rhs in
            let (left, right) = (lhs.value.reduce(0) { $0 + $1.summary.count }, rhs.value.reduce(0) { $0 + $1.summary.count })
            return left != right ? left < right : lhs.key > rhs.key
        }
        return .object([
            (key: "id", value: .string(device)),
            (key: "online", value: .bool(view.presence[device]?.value.online ?? false)),
            (key: "profile", value: view.registry.value("profile", of: device).map(JSONValue.init) ?? .null),
            (key: "activeAlarms", value: .number(Double(alarms(device, view).count))),
            (key: "lastSeenMs", value: view.registry.value("last_seen", of: device).map(JSONValue.init) ?? .null),
            (key: "reported", value: view.reported.valuesJSON(of: device)),
            (key: "desired", value: view.desired.valuesJSON(of: device)),
            (key: "telemetry", value: SiteTelemetryStats(device: device, raw: telemetry, counters: view.counters).json),
            (key: "mainMetric", value: main.map { .string($0.key) } ?? .null),
            (key: "recent", value: .array((main?.value ?? []).map { windowJSON(main!.key, $0.windowStart, $0.summary) })),
        ])
    }

    /// Every rollup window of the site, summed over writers, by device and metric, oldest first
    /// (one pass over the cells, rather than one per device).
    static func rollupsByDevice(_ view: SiteState) -> [String: [String: [(windowStart: UInt64, summary: TelemetryRollups.Summary)]]] {
        var cells: [String: [String: [UInt64: TelemetryRollups.Summary]]] = [:]
        for (key, summary) in view.rollups.cells {
            cells[key.device, default: [:]][key.metric, default: [:]][key.windowStart, default: summary] =
                cells[key.device]?[key.metric]?[key.windowStart].map { $0.combined(with: summary) } ?? summary
        }
        return cells.mapValues { metrics in
            metrics.mapValues { windows in windows.sorted { $0.key < $1.key }.map { (windowStart: $0.key, summary: $0.value) } }
        }
    }

    static func windowJSON(_ metric: String, _ windowStart: UInt64, _ summary: TelemetryRollups.Summary) -> JSONValue {
        .object([
            (key: "metric", value: .string(metric)),
            (key: "window_start_ms", value: .number(Double(windowStart))),
            (key: "count", value: .number(Double(summary.count))),
            (key: "sum", value: .number(summary.sum)),
            (key: "min", value: .number(summary.min)),
            (key: "max", value: .number(summary.max)),
            (key: "last", value: .number(summary.last)),
        ])
    }

    /// A device as `GET /v1/sites/{site}/devices/{device}` shows it.
    static func deviceJSON(_ device: String, _ view: SiteState, telemetry: RawTelemetrySummary?) -> JSONValue {
        var metrics = Set<String>()
        for key in view.rollups.cells.keys where key.device == device { metrics.insert(key.metric) }
        var rollups: [JSONValue] = []
        for metric in metrics.sorted() {
            for window in view.rollups.windows(device: device, metric: metric).suffix(recentWindows) {
                rollups.append(windowJSON(metric, window.windowStart, window.summary))
            }
        }
        return .object([
            (key: "id", value: .string(device)),
            (key: "profile", value: view.registry.value("profile", of: device).map(JSONValue.init) ?? .null),
            (key: "registry", value: view.registry.valuesJSON(of: device)),
            (key: "presence", value: presenceJSON(device, view)),
            (key: "reported", value: view.reported.valuesJSON(of: device)),
            (key: "desired", value: view.desired.valuesJSON(of: device)),
            (key: "hlc", value: .object([
                (key: "reported", value: view.reported.stampsJSON(of: device)),
                (key: "desired", value: view.desired.stampsJSON(of: device)),
            ])),
            (key: "telemetry", value: SiteTelemetryStats(device: device, raw: telemetry, counters: view.counters).json),
            (key: "rollups", value: .array(rollups)),
            (key: "alarms", value: .array(alarms(device, view).map(JSONValue.string))),
            (key: "commands", value: CommandHistory(registryValue: view.registry.value(CommandHistory.registryField, of: device)).json),
        ])
    }

    /// `PUT /v1/sites/{site}/devices/{device}/desired` with `{"fields": {"setpoint": 21.5, …}}`.
    private func setDesired(site: String, device: String, _ body: [UInt8]) async throws -> CloudResponse {
        guard SegmentName.isValid(device) else {
            return .error(400, "`\(device)` is not a valid device id ([A-Za-z0-9_.-]{1,64})")
        }
        let fields: [(name: String, value: FieldValue)]
        do {
            fields = try ReportedPayload.decode(body).fields  // the same {"fields":{…}} shape and rules
        } catch {
            return .error(400, "the body must be {\"fields\": {\"name\": value, …}} with JSON scalar values: \(error)")
        }
        guard !fields.isEmpty else { return .error(400, "`fields` is empty: nothing to set; send at least one field") }
        let current = try await store.view(site: site)
        guard Self.deviceIDs(current).contains(device) else { return Self.unknownDevice(device, site) }
        let observed = fields.compactMap { current.desired.field($0.name, of: device)?.stamp }
        _ = try await writer.setDesired(site: site, device: device, fields: fields.map { ($0.name, $0.value) }, observed: observed)
        metrics.merges.increment()
        await afterWrite(site)
        let view = try await store.view(site: site)
        return .json(200, .object([
            (key: "id", value: .string(device)),
            (key: "desired", value: view.desired.valuesJSON(of: device)),
            (key: "hlc", value: view.desired.stampsJSON(of: device)),
        ]))
    }
}
