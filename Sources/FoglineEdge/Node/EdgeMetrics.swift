import FoglineWire
import Metrics
import Prometheus

typealias Counter = Metrics.Counter
typealias Gauge = Metrics.Gauge

/// The edge node's Prometheus metrics (swift-metrics over a per-node Prometheus registry, so
/// several nodes in one test process do not share counters).
final class EdgeMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let rejected: [String: Counter]
    let messagesReceived: Counter
    let readingsStored: Counter
    /// Readings in committed SQLite transactions: what a crash can no longer lose.
    let readingsCommitted: Counter
    let duplicates: Counter
    let gapSeqs: Counter
    let gapsFilled: Counter
    let replayRequests: Counter
    let storeTransactions: Counter
    let storeErrors: Counter
    /// Raw readings deleted by retention, and those of them the aggregator never held.
    let rawPruned: Counter
    let rawLost: Counter
    let mqttDropped: Counter
    let devicesOnline: Gauge
    let clockTrusted: Gauge
    private let peerRejected: [String: Counter]
    /// Authenticated peer frames that did not decode or named another site or node.
    let quorumFramesRejected: Counter
    /// Peer frames rejected because the sender's clock ran ahead (``PeerClockCheck``).
    let peerClockRejected: Counter
    /// Gossip bodies (deltas, contexts, acks) that did not decode.
    let gossipFramesRejected: Counter
    /// Sync frames from the cloud broker that did not decode or were not for this node.
    let syncFramesRejected: Counter
    let ownedShards: Gauge
    let liveMembers: Gauge

    static let rejectReasons = PayloadRejection.allReasons + [
        DevicePlane.IngestRejection.seqBackwards, DevicePlane.IngestRejection.unknownCommand,
    ]

    init() {
        let factory = PrometheusMetricsFactory(registry: registry)
        rejected = Dictionary(uniqueKeysWithValues: Self.rejectReasons.map {
            ($0, Counter(label: "fogline_rejected_messages_total", dimensions: [("reason", $0)], factory: factory))
        })
        messagesReceived = Counter(label: "fogline_device_messages_total", factory: factory)
        readingsStored = Counter(label: "fogline_telemetry_readings_total", factory: factory)
        duplicates = Counter(label: "fogline_telemetry_duplicates_total", factory: factory)
        gapSeqs = Counter(label: "fogline_telemetry_gap_seqs_total", factory: factory)
        gapsFilled = Counter(label: "fogline_telemetry_gaps_filled_total", factory: factory)
        replayRequests = Counter(label: "fogline_replay_requests_total", factory: factory)
        readingsCommitted = Counter(label: "fogline_store_readings_committed_total", factory: factory)
        storeTransactions = Counter(label: "fogline_store_transactions_total", factory: factory)
        storeErrors = Counter(label: "fogline_store_errors_total", factory: factory)
        rawPruned = Counter(label: "fogline_raw_readings_pruned_total", factory: factory)
        rawLost = Counter(label: "fogline_raw_readings_lost_total", factory: factory)
        mqttDropped = Counter(label: "fogline_mqtt_incoming_dropped_total", factory: factory)
        devicesOnline = Gauge(label: "fogline_devices_online", factory: factory)
        clockTrusted = Gauge(label: "fogline_clock_trusted", factory: factory)
        peerRejected = Dictionary(uniqueKeysWithValues: PeerTransport.RejectReason.allCases.map {
            ($0.rawValue, Counter(label: "fogline_peer_frames_rejected_total", dimensions: [("reason", $0.rawValue)], factory: factory))
        })
        quorumFramesRejected = Counter(label: "fogline_quorum_messages_rejected_total", factory: factory)
        peerClockRejected = Counter(label: "fogline_peer_frames_rejected_total", dimensions: [("reason", "clock_ahead")], factory: factory)
        gossipFramesRejected = Counter(label: "fogline_gossip_frames_rejected_total", factory: factory)
        syncFramesRejected = Counter(label: "fogline_sync_frames_rejected_total", factory: factory)
        ownedShards = Gauge(label: "fogline_quorum_owned_shards", factory: factory)
        liveMembers = Gauge(label: "fogline_quorum_live_members", factory: factory)
    }

    /// Adds `count` peer frames rejected for `reason` (unauthenticated, replayed, oversized, …).
    func countPeerRejections(_ reason: PeerTransport.RejectReason, _ count: Int) {
        if count > 0 { peerRejected[reason.rawValue]?.increment(by: Int64(count)) }
    }

    func countRejection(_ reason: String) {
        rejected[reason]?.increment()
    }

    /// Adds what changed in the plane's totals between two snapshots.
    func record(from before: DevicePlane.IngestTotals, to after: DevicePlane.IngestTotals) {
        func add(_ counter: Counter, _ old: UInt64, _ new: UInt64) {
            if new > old { counter.increment(by: Int64(new - old)) }
        }
        add(messagesReceived, before.messages, after.messages)
        add(readingsStored, before.readingsStored, after.readingsStored)
        add(duplicates, before.duplicates, after.duplicates)
        add(gapSeqs, before.gapSeqs, after.gapSeqs)
        add(gapsFilled, before.gapsFilled, after.gapsFilled)
        add(replayRequests, before.replayRequests, after.replayRequests)
    }

    /// Prometheus text exposition.
    func render() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
