import FoglineWire

/// A screen of the dashboard; the open ones form a stack (Enter pushes, Esc pops).
public enum DashView: Equatable, Sendable {
    /// Every site (the root).
    case sites
    /// One site: its nodes and devices.
    case site(String)
    /// One device of a site: twin, rollups, commands, alarms.
    case device(site: String, device: String)
    /// One site's audit chains.
    case audit(String)

    /// The site this view belongs to.
    public var site: String? {
        switch self {
        case .sites: nil
        case .site(let site), .audit(let site): site
        case .device(let site, _): site
        }
    }
}

/// How the sites table is sorted (`s` cycles).
public enum SiteSort: String, CaseIterable, Sendable {
    case name, lag, alarms, offline
}

/// How a site's devices are sorted (`s` cycles).
public enum DeviceSort: String, CaseIterable, Sendable {
    case id, presence, alarms, pending, profile
}

/// What typed characters go to.
public enum InputMode: Equatable, Sendable {
    case normal
    /// Typing a filter for the current list; `previous` comes back on Esc.
    case filter(previous: String)
    /// Typing `field=value` for a device's desired state.
    case edit(site: String, device: String, text: String)
}

/// Whether the aggregator answers.
public enum ConnectionState: Equatable, Sendable {
    /// No answer yet.
    case connecting
    /// The last refresh succeeded.
    case connected
    /// The last refresh failed: since when, and why.
    case unreachable(sinceMs: UInt64, reason: String)
}

/// A short message in the footer (a write's result, a bad edit), until `untilMs`.
public struct Notice: Equatable, Sendable {
    public var text: String
    public var isError: Bool
    public var untilMs: UInt64

    public init(text: String, isError: Bool, untilMs: UInt64) {
        self.text = text
        self.isError = isError
        self.untilMs = untilMs
    }
}

/// Everything the dashboard shows, and nothing about the terminal: the data last fetched from the
/// aggregator, the open views, selections, filters, sorts, the input mode and the banner. Keys
/// change it through ``handle(_:)`` (a pure reducer), refreshes through ``apply(_:)`` and
/// ``applyFailure(_:atMs:)``; ``render(_:size:)`` draws it.
public struct DashState: Equatable, Sendable {
    /// The aggregator's URL, for the header.
    public var aggregator: String
    /// Wall time of the frame being drawn (Unix milliseconds).
    public var nowMs: UInt64
    public var connection: ConnectionState = .connecting
    /// When the data was last fetched successfully.
    public var lastUpdateMs: UInt64?

    public var sites: [SiteSummary] = []
    /// The open site, with its audit summary and node statuses.
    public var site: SiteSummary?
    public var devices: [DeviceSummary] = []
    public var device: DeviceDetail?
    public var audit: [AuditChainView]?
    /// Sync frames per second received by the aggregator, over the last refresh interval.
    public var messagesPerSecond: Double?

    public var views: [DashView] = [.sites]
    public var selectedSite: String?
    public var selectedDevice: String?
    /// In the device view: the twin field `e` edits.
    public var selectedField: String?
    /// In the audit view: entries scrolled past.
    public var auditScroll = 0
    public var siteFilter = ""
    public var deviceFilter = ""
    public var siteSort: SiteSort = .name
    public var deviceSort: DeviceSort = .id
    public var input: InputMode = .normal
    public var showHelp = false
    public var notice: Notice?
    /// Box drawing and blocks, or ASCII.
    public var glyphs: Glyphs = .unicode

    public init(aggregator: String, nowMs: UInt64) {
        self.aggregator = aggregator
        self.nowMs = nowMs
    }

    /// The view on top.
    public var view: DashView { views.last ?? .sites }

    // MARK: Lists as shown

    /// The sites table's rows: filtered, then sorted.
    public var visibleSites: [SiteSummary] {
        let filter = siteFilter.lowercased()
        let rows = filter.isEmpty ? sites : sites.filter { $0.name.lowercased().contains(filter) }
        switch siteSort {
        case .name:
            return rows.sorted { $0.name < $1.name }
        case .lag:
            // Never synced first, then the longest since the last sync.
            return rows.sorted { ($0.lastSyncMs ?? 0, $0.name) < ($1.lastSyncMs ?? 0, $1.name) }
        case .alarms:
            return rows.sorted { (-$0.activeAlarms, $0.name) < (-$1.activeAlarms, $1.name) }
        case .offline:
            return rows.sorted { ($1.devicesTotal - $1.devicesOnline, $0.name) < ($0.devicesTotal - $0.devicesOnline, $1.name) }
        }
    }

    /// The open site's devices as listed: filtered (id or profile), then sorted.
    public var visibleDevices: [DeviceSummary] {
        let filter = deviceFilter.lowercased()
        let rows = filter.isEmpty
            ? devices
            : devices.filter { $0.id.lowercased().contains(filter) || ($0.profile ?? "").lowercased().contains(filter) }
        switch deviceSort {
        case .id:
            return rows.sorted { $0.id < $1.id }
        case .presence:
            return rows.sorted { ($0.online ? 1 : 0, $0.id) < ($1.online ? 1 : 0, $1.id) }
        case .alarms:
            return rows.sorted { (-$0.activeAlarms, $0.id) < (-$1.activeAlarms, $1.id) }
        case .pending:
            return rows.sorted { (-$0.pendingCount, $0.id) < (-$1.pendingCount, $1.id) }
        case .profile:
            return rows.sorted { ($0.profile ?? "~", $0.id) < ($1.profile ?? "~", $1.id) }
        }
    }

    /// The twin rows of the open device.
    public var visibleTwin: [TwinComparison] { device?.twin ?? [] }

    /// Index of the selected site in ``visibleSites`` (the first when none is selected).
    public var siteCursor: Int? { Self.cursor(visibleSites.map(\.name), selectedSite) }
    /// Index of the selected device in ``visibleDevices``.
    public var deviceCursor: Int? { Self.cursor(visibleDevices.map(\.id), selectedDevice) }
    /// Index of the selected twin field.
    public var fieldCursor: Int? { Self.cursor(visibleTwin.map(\.name), selectedField) }

    static func cursor(_ ids: [String], _ selected: String?) -> Int? {
        guard !ids.isEmpty else { return nil }
        return selected.flatMap { ids.firstIndex(of: $0) } ?? 0
    }

    // MARK: Refreshes

    /// The worst sync lag over every site that has synced: now minus its last sync.
    public var worstLagMs: UInt64? {
        sites.compactMap(\.lastSyncMs).min().map { nowMs > $0 ? nowMs - $0 : 0 }
    }

    /// What a refresh needs to fetch for the open views.
    public var fetchPlan: FetchPlan {
        var plan = FetchPlan()
        for view in views {
            switch view {
            case .sites: break
            case .site(let site): plan.site = site
            case .device(let site, let device):
                plan.site = site
                plan.device = device
            case .audit(let site):
                plan.site = site
                plan.audit = true
            }
        }
        return plan
    }

    /// Takes in a successful refresh.
    public mutating func apply(_ snapshot: DashSnapshot) {
        nowMs = snapshot.fetchedAtMs
        connection = .connected
        lastUpdateMs = snapshot.fetchedAtMs
        sites = snapshot.sites
        messagesPerSecond = snapshot.messagesPerSecond ?? messagesPerSecond
        // Data for views closed while the fetch ran is dropped (the reducer clears what a newly
        // opened view shows until its own data arrives).
        let plan = fetchPlan
        if let open = plan.site {
            if snapshot.plan.site == open {
                site = snapshot.site
                devices = snapshot.devices
            }
        } else {
            site = nil
            devices = []
        }
        if plan.device == nil {
            device = nil
        } else if snapshot.plan.device == plan.device, snapshot.plan.site == plan.site {
            device = snapshot.device
        }
        if !plan.audit {
            audit = nil
        } else if snapshot.plan.audit, snapshot.plan.site == plan.site {
            audit = snapshot.audit
        }
    }

    /// Takes in a failed refresh: the data shown stays (and ages), the banner says why.
    public mutating func applyFailure(_ reason: String, atMs now: UInt64) {
        nowMs = now
        if case .unreachable(let since, _) = connection {
            connection = .unreachable(sinceMs: since, reason: reason)
        } else {
            connection = .unreachable(sinceMs: now, reason: reason)
        }
    }

    /// Shows `text` in the footer for a few seconds.
    public mutating func post(_ text: String, isError: Bool = false, seconds: UInt64 = 4) {
        notice = Notice(text: text, isError: isError, untilMs: nowMs + seconds * 1_000)
    }
}

/// Which endpoints a refresh reads, besides `GET /v1/sites` and `GET /metrics`.
public struct FetchPlan: Equatable, Sendable {
    /// `GET /v1/sites/{site}` and `…/devices`.
    public var site: String?
    /// `GET /v1/sites/{site}/devices/{device}`.
    public var device: String?
    /// `GET /v1/sites/{site}/audit`.
    public var audit = false

    public init(site: String? = nil, device: String? = nil, audit: Bool = false) {
        self.site = site
        self.device = device
        self.audit = audit
    }
}

/// What one refresh read from the aggregator.
public struct DashSnapshot: Equatable, Sendable {
    public var plan: FetchPlan
    public var fetchedAtMs: UInt64
    public var sites: [SiteSummary]
    public var site: SiteSummary?
    public var devices: [DeviceSummary]
    public var device: DeviceDetail?
    public var audit: [AuditChainView]?
    public var messagesPerSecond: Double?

    public init(
        plan: FetchPlan, fetchedAtMs: UInt64, sites: [SiteSummary], site: SiteSummary? = nil, devices: [DeviceSummary] = [],
        device: DeviceDetail? = nil, audit: [AuditChainView]? = nil, messagesPerSecond: Double? = nil
    ) {
        self.plan = plan
        self.fetchedAtMs = fetchedAtMs
        self.sites = sites
        self.site = site
        self.devices = devices
        self.device = device
        self.audit = audit
        self.messagesPerSecond = messagesPerSecond
    }
}
