import FoglineStore

extension DeviceIngest {
    /// The row the store keeps. The window's first seq, its received-bits, the replay flag and
    /// the filled-gap count travel in the row's opaque blob (little-endian words).
    func row(device: String) -> IngestRow {
        var blob: [UInt8] = [1]  // format version
        func append(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { blob += $0 } }
        append(window.first.map { $0 &+ 1 } ?? 0)  // 0 = no first seq yet
        append(supportsReplay ? 1 : 0)
        append(gapsFilled)
        for word in window.persistedBits { append(word) }
        return IngestRow(
            device: device, epoch: epoch, lastSeq: window.highest, received: received, duplicates: duplicates, gaps: gaps,
            missingRanges: blob)
    }

    /// Rebuilds the bookkeeping from a stored row; a row with an unknown blob keeps its counters
    /// and starts a fresh window.
    init(row: IngestRow) {
        self.init()
        epoch = row.epoch
        received = row.received
        duplicates = row.duplicates
        gaps = row.gaps
        let blob = row.missingRanges
        let words = SequenceWindow.wordCount
        guard blob.first == 1, blob.count == 1 + 8 * (3 + words) else {
            window = SequenceWindow(first: nil, highest: row.lastSeq, persistedBits: [])
            return
        }
        func word(_ index: Int) -> UInt64 {
            var value: UInt64 = 0
            for byte in (0..<8).reversed() { value = value << 8 | UInt64(blob[1 + index * 8 + byte]) }
            return value
        }
        let first = word(0)
        supportsReplay = word(1) == 1
        gapsFilled = word(2)
        window = SequenceWindow(
            first: first == 0 ? nil : first - 1, highest: row.lastSeq, persistedBits: (0..<words).map { word(3 + $0) })
    }
}
