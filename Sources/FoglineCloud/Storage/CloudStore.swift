public import FoglineCore

/// Where the aggregator keeps the merged state of every site: one protocol, two real backends
/// (``SQLiteCloudStore``, the embedded default, and ``PostgresCloudStore``, which several
/// `fogline-cloud serve` processes share to scale out).
///
/// Every method is safe to call from many tasks and, for PostgreSQL, from many processes at once:
/// merges commute, so any instance may merge any batch, in any order, any number of times, and
/// the stored state is the join of everything merged (``SiteState/merge(_:)`` exactly).
public protocol CloudStore: Sendable {
    /// Joins each of `deltas`, in order, into site `site`'s state, all in one transaction, and
    /// returns only once that is durable (committed); returns the site's summary after the merge.
    /// Creates the site on its first merge. (One commit for several batches: the aggregator's
    /// group commit, see ``CloudSyncService``.)
    func merge(_ deltas: [SiteDelta], site: String) async throws -> ReplicaSummary

    /// The site's causal context and kernel digest (empty for a site never merged).
    func summary(site: String) async throws -> ReplicaSummary

    /// What a replica that sent `peer` lacks of site `site`, at most about `maxEntries` entries,
    /// with the context that batch covers (``SiteState/batch(since:maxEntries:)`` on the stored
    /// state), or `nil` when it lacks nothing.
    func batch(site: String, since peer: ReplicaSummary, maxEntries: Int) async throws -> SiteDelta?

    /// Every site ever merged, sorted by name.
    func sites() async throws -> [String]

    /// The site's state for reading (API views): every part but raw telemetry, which is large;
    /// read its summary with ``telemetry(site:)``.
    func view(site: String) async throws -> SiteState

    /// What a site's summary shows, without reading its entries: cheap enough for a dashboard or
    /// a script to poll (``view(site:)`` reads every entry and, on SQLite, holds the one connection
    /// merges need meanwhile).
    func overview(site: String) async throws -> SiteOverview

    /// Per device, what the raw readings stored for the site say (distinct readings, so a
    /// reading merged twice or ingested by two nodes counts once).
    func telemetry(site: String) async throws -> [String: RawTelemetrySummary]

    /// Appends entries of node `node`'s audit chain. Entries at or below what is stored are
    /// skipped (a resend); the rest must continue the stored chain (index and previous hash) and
    /// verify, or nothing is stored and ``AuditAppendError`` says why. Returns the index stored
    /// through.
    func appendAudit(_ entries: [AuditEntry], site: String, node: String) async throws -> UInt64

    /// The stored audit chain of every node of the site, by node, each in index order.
    func audit(site: String) async throws -> [String: [AuditEntry]]

    /// Keeps one part of a multi-part sync batch from `node` until all its parts are there (they
    /// may reach different instances under a shared subscription); returns every part, in index
    /// order, once the batch is complete (and forgets them), else `nil`. A part already kept is
    /// ignored. Parts of any batch received more than ``StoredBatchPart/expiryMilliseconds``
    /// before `part` are dropped (their sender resends the batch when no ack comes).
    func addBatchPart(_ part: StoredBatchPart, site: String, node: String) async throws -> [StoredBatchPart]?

    /// Records that `node` of `site` synced at `wallMilliseconds` (the dashboard's last sync).
    func recordContact(site: String, node: String, wallMilliseconds: UInt64) async throws

    /// When each node of the site last synced (wall milliseconds), by node.
    func contacts(site: String) async throws -> [String: UInt64]

    /// Keeps `status` (an encoded `Fogline_V1_SiteStatus`) that `node` sent with its hello at
    /// `wallMilliseconds`, unless a later one of the site is stored: one per site, the latest.
    func recordSiteStatus(_ status: [UInt8], site: String, node: String, wallMilliseconds: UInt64) async throws

    /// The latest site status stored for the site, if any node ever sent one.
    func siteStatus(site: String) async throws -> StoredSiteStatus?

    /// Closes connections; later calls fail.
    func close() async throws
}

extension CloudStore {
    /// Joins `delta` into site `site`'s state durably: the protocol's `merge` with one delta.
    public func merge(_ delta: SiteDelta, site: String) async throws -> ReplicaSummary {
        try await merge([delta], site: site)
    }
}

/// A site's causal context, alarms and devices (``CloudStore/overview(site:)``).
public struct SiteOverview: Sendable, Equatable {
    public var context: CausalContext
    public var alarms: DotKernel<Alarm>
    /// Every device of the site: those with a registry, twin, presence or rollup entry or an alarm.
    public var devices: Set<String>
    /// The devices whose presence says online.
    public var online: Set<String>

    public init(context: CausalContext, alarms: DotKernel<Alarm>, devices: Set<String>, online: Set<String>) {
        self.context = context
        self.alarms = alarms
        self.devices = devices.union(alarms.elements.map(\.device))
        self.online = online
    }

    /// The overview of a site whose state is `view` (the in-memory reference).
    public init(_ view: SiteState) {
        var devices = Set(view.registry.deviceIDs).union(view.reported.deviceIDs).union(view.desired.deviceIDs)
        devices.formUnion(view.presence.registers.keys)
        for key in view.rollups.cells.keys { devices.insert(key.device) }
        self.init(
            context: view.context, alarms: view.alarms, devices: devices,
            online: Set(view.presence.registers.filter { $0.value.value.online }.keys))
    }
}

/// The latest status of a site, as its uplink holder sent it with a hello.
public struct StoredSiteStatus: Sendable, Equatable {
    /// The node that sent it.
    public var node: String
    /// When it arrived (aggregator wall milliseconds).
    public var receivedWallMilliseconds: UInt64
    /// The encoded `Fogline_V1_SiteStatus`.
    public var status: [UInt8]

    public init(node: String, receivedWallMilliseconds: UInt64, status: [UInt8]) {
        self.node = node
        self.receivedWallMilliseconds = receivedWallMilliseconds
        self.status = status
    }
}

/// One part of a multi-part sync batch, as ``CloudStore/addBatchPart(_:site:node:)`` keeps it.
public struct StoredBatchPart: Sendable, Equatable {
    public var batchID: UInt64
    public var index: UInt32
    public var count: UInt32
    /// `Fogline_V1_Compression` raw value; every part of a batch carries the same.
    public var compression: Int
    /// Encoded `base` context (part 0 only; empty otherwise).
    public var base: [UInt8]
    public var payload: [UInt8]
    public var receivedWallMilliseconds: UInt64

    /// How long an incomplete batch's parts are kept.
    public static let expiryMilliseconds: UInt64 = 60_000

    public init(
        batchID: UInt64, index: UInt32, count: UInt32, compression: Int, base: [UInt8], payload: [UInt8],
        receivedWallMilliseconds: UInt64
    ) {
        self.batchID = batchID
        self.index = index
        self.count = count
        self.compression = compression
        self.base = base
        self.payload = payload
        self.receivedWallMilliseconds = receivedWallMilliseconds
    }
}

/// Why audit entries were not stored.
public struct AuditAppendError: Error, Sendable, Equatable, CustomStringConvertible {
    public var site: String
    public var node: String
    public var index: UInt64
    public var reason: String

    public init(site: String, node: String, index: UInt64, reason: String) {
        self.site = site
        self.node = node
        self.index = index
        self.reason = reason
    }

    public var description: String {
        "audit entry \(index) of node \(node) (site \(site)) was not stored: \(reason)"
    }
}
