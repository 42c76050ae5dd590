public import FoglineCore
import GRDB

/// Reads over the site's replicated raw readings (folded table and journal alike), for the
/// telemetry stats the admin API serves and for taking over a device's stream.
extension EdgeStore {
    /// The stats of `device`'s raw readings this replica holds from every node (nil: none) — the
    /// same computation the aggregator runs over its copy, so both sides can be compared.
    public func rawTelemetrySummary(device: String) throws -> RawTelemetrySummary? {
        try read("summarize raw telemetry") { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT epoch, COUNT(*), MAX(seq) FROM (
                    SELECT epoch, seq FROM raw_telemetry WHERE device = ? UNION SELECT epoch, seq FROM raw_log WHERE device = ?
                ) GROUP BY epoch
                """, arguments: [device, device])
            return RawTelemetrySummary.summarize(rows.map { row in
                RawTelemetrySummary.EpochCount(
                    device: device, epoch: StoredInteger.fromSortable(row[0]), readings: UInt64(row[1] as Int64),
                    highestSeq: StoredInteger.fromBits(row[2]))
            })[device]
        }
    }

    /// The newest `limit` seqs of `device` stored in `epoch`, ascending.
    public func storedSeqs(device: String, epoch: UInt64, newest limit: Int) throws -> [UInt64] {
        try read("read stored seqs") { db in
            let epochValue = StoredInteger.sortable(epoch)
            let seqs = try Int64.fetchAll(db, sql: """
                SELECT seq FROM raw_telemetry WHERE device = ? AND epoch = ?
                UNION SELECT seq FROM raw_log WHERE device = ? AND epoch = ?
                ORDER BY seq DESC LIMIT ?
                """, arguments: [device, epochValue, device, epochValue, max(0, limit)])
            return seqs.reversed().map(StoredInteger.fromBits)
        }
    }
}
