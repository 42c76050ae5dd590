public import FoglineCore
import GRDB

/// Reads over the site's replicated raw readings (folded table and journal alike), for the
/// telemetry stats the admin API serves and for taking over a device's stream.
extension EdgeStore {
    /// The stats of `device`'s raw readings this replica holds from every node (nil: none) — the
    /// same computation the aggregator runs over its copy, so both sides can be compared.
    public func rawTelemetrySummary(device: String) throws -> RawTelemetrySummary? {
        try read("summarize raw telemetry") { db in
            var highest: [UInt64: (readings: UInt64, seq: UInt64)] = [:]
            for position in try positions(of: device, db: db) {
                let current = highest[position.epoch] ?? (0, 0)
                highest[position.epoch] = (current.readings + 1, max(current.seq, position.seq))
            }
            return RawTelemetrySummary.summarize(highest.map { epoch, found in
                RawTelemetrySummary.EpochCount(device: device, epoch: epoch, readings: found.readings, highestSeq: found.seq)
            })[device]
        }
    }

    /// The newest `limit` seqs of `device` stored in `epoch`, ascending.
    public func storedSeqs(device: String, epoch: UInt64, newest limit: Int) throws -> [UInt64] {
        try read("read stored seqs") { db in
            try positions(of: device, db: db).filter { $0.epoch == epoch }.map(\.seq).sorted().suffix(max(0, limit))
        }
    }

    /// Every (epoch, seq) of `device` held in the chunks or the journal, once each.
    private func positions(of device: String, db: Database) throws -> Set<RawChunk.Position> {
        var positions = Set<RawChunk.Position>()
        try RawChunkStore.forEachChunk(ofDevice: device, db: db, path: path) { chunk in
            positions.formUnion(chunk.entries.lazy.map(\.position))
            return true
        }
        try TelemetryJournal.forEachReading(db, path: path) { key, _, _ in
            if key.device == device { positions.insert(RawChunk.Position(epoch: key.epoch, seq: key.seq)) }
        }
        return positions
    }
}
