/// The last N telemetry readings of one device, kept so it can answer `replay` requests.
///
/// A reading is stored as numbers, not as payload bytes: the timestamp and one double per
/// metric, in one flat array per device. Re-encoding them with ``TelemetryPayload``
/// (whose encoding is deterministic) gives back exactly the bytes first sent, at a fraction
/// of the memory: 16 bytes per reading for a one-metric device instead of a ~70-byte
/// payload plus an array header. The array grows as readings arrive, so a device that
/// never sends much never allocates its whole buffer.
///
/// Readings have consecutive `seq`s (every reading is stored, including the ones the `gap`
/// fault withheld), so the slot of `seq` is `seq % capacity`.
struct ReplayRing: Sendable {
    /// How many readings the ring holds at most.
    let capacity: Int
    /// Doubles per reading: the timestamp, then one per metric.
    private let stride: Int
    private var storage: [Double] = []
    /// The seqs held: `heldSeqs.upperBound` is one past the newest reading.
    private(set) var heldSeqs: Range<UInt64> = 0..<0

    init(capacity: Int, metricCount: Int) {
        self.capacity = capacity
        self.stride = metricCount + 1
    }

    /// Stores the reading with the next seq. Readings must arrive in seq order without
    /// holes, starting at 0 (a device's stream goes on across reconnections).
    mutating func append(seq: UInt64, deviceTime: Int64, values: [Double]) {
        guard capacity > 0 else { return }
        precondition(seq == heldSeqs.upperBound, "replay ring: seq \(seq) is not the next one (\(heldSeqs.upperBound))")
        precondition(values.count == stride - 1, "replay ring: a reading has \(values.count) values, expected \(stride - 1)")
        let base = Int(seq % UInt64(capacity)) * stride
        if base == storage.count {
            storage.append(Double(deviceTime))
            storage.append(contentsOf: values)
        } else {
            storage[base] = Double(deviceTime)
            storage.replaceSubrange((base + 1)..<(base + stride), with: values)
        }
        let newest = seq + 1
        heldSeqs = (newest - min(UInt64(capacity), UInt64(heldSeqs.count) + 1))..<newest
    }

    /// The reading with `seq`, if it is still held.
    func reading(seq: UInt64) -> (deviceTime: Int64, values: ArraySlice<Double>)? {
        guard heldSeqs.contains(seq) else { return nil }
        let base = Int(seq % UInt64(capacity)) * stride
        return (Int64(storage[base]), storage[(base + 1)..<(base + stride)])
    }
}
