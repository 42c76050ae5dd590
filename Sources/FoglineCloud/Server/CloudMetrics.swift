import Metrics
import Prometheus

/// The aggregator's Prometheus metrics: swift-metrics over a per-instance Prometheus registry
/// (several instances in one test process do not share counters), rendered by `GET /metrics`.
public final class CloudMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let framesByKind: [String: Metrics.Counter]
    private let rejectedByReason: [SyncRejectReason: Metrics.Counter]
    /// Batches merged durably into the store (edge batches and cloud writes).
    let merges: Metrics.Counter
    /// Transactions that merged edge batches: fewer than ``merges`` when commits take several
    /// batches (group commit).
    let mergeCommits: Metrics.Counter
    /// Batches refused because the store does not hold their base.
    let refusedBatches: Metrics.Counter
    /// Complete batches that did not decode (not acknowledged: the edge sends them again).
    let decodeFailures: Metrics.Counter
    /// Audit appends the store refused (a broken or forged chain).
    let auditRejected: Metrics.Counter
    /// Payload bytes of every frame received on `up` topics, accepted or not.
    let bytesReceived: Metrics.Counter
    /// Frames published on `down` topics.
    let framesSent: Metrics.Counter
    /// Store or broker operations that failed while handling a frame.
    let errors: Metrics.Counter

    static let frameKinds = ["hello", "batch", "ack", "audit", "audit_ack", "none"]

    /// Fresh counters in a registry of their own.
    public init() {
        let factory = PrometheusMetricsFactory(registry: registry)
        framesByKind = Dictionary(uniqueKeysWithValues: Self.frameKinds.map {
            ($0, Metrics.Counter(label: "fogline_cloud_sync_frames_total", dimensions: [("kind", $0)], factory: factory))
        })
        rejectedByReason = Dictionary(uniqueKeysWithValues: SyncRejectReason.allCases.map {
            ($0, Metrics.Counter(label: "fogline_cloud_rejected_frames_total", dimensions: [("reason", $0.rawValue)], factory: factory))
        })
        merges = Metrics.Counter(label: "fogline_cloud_merges_total", factory: factory)
        mergeCommits = Metrics.Counter(label: "fogline_cloud_merge_commits_total", factory: factory)
        refusedBatches = Metrics.Counter(label: "fogline_cloud_refused_batches_total", factory: factory)
        decodeFailures = Metrics.Counter(label: "fogline_cloud_batch_decode_failures_total", factory: factory)
        auditRejected = Metrics.Counter(label: "fogline_cloud_audit_rejected_total", factory: factory)
        bytesReceived = Metrics.Counter(label: "fogline_cloud_bytes_received_total", factory: factory)
        framesSent = Metrics.Counter(label: "fogline_cloud_frames_sent_total", factory: factory)
        errors = Metrics.Counter(label: "fogline_cloud_errors_total", factory: factory)
    }

    /// Counts an accepted frame by its body (`hello`, `batch`, …).
    func countFrame(kind: String) { framesByKind[kind]?.increment() }

    func countRejection(_ reason: SyncRejectReason) { rejectedByReason[reason]?.increment() }

    /// Prometheus text exposition.
    public func render() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
