import FoglineStore

extension DeviceIngest {
    /// The row the store keeps. The window's first seq, the replay flag, the filled-gap count and
    /// the window's received-bits travel in the row's opaque blob.
    ///
    /// Format 2: LEB128 varints (first seq + 1, or 0 when none; replay flag; filled gaps), then
    /// the received-bits as a 2-bit tag per 64-bit word (all zeros, all ones, or literal), with
    /// the literal words after the tags. A device's row is rewritten by every commit that carries
    /// one of its readings, and in a healthy stream nearly every word is all ones, so this is
    /// about 15 bytes where format 1 (fixed words, still read) took 153: the ingest table, and
    /// the pages each commit rewrites, shrink accordingly.
    func row(device: String) -> IngestRow {
        var blob: [UInt8] = [2]  // format version
        blob.reserveCapacity(32)
        IngestBlob.appendVarint(window.first.map { $0 &+ 1 } ?? 0, to: &blob)
        IngestBlob.appendVarint(supportsReplay ? 1 : 0, to: &blob)
        IngestBlob.appendVarint(gapsFilled, to: &blob)
        let words = window.persistedBits
        var tags = [UInt8](repeating: 0, count: (words.count + 3) / 4)
        var literals: [UInt64] = []
        for (index, word) in words.enumerated() {
            let tag: UInt8
            switch word {
            case 0: tag = IngestBlob.zeros
            case .max: tag = IngestBlob.ones
            default:
                tag = IngestBlob.literal
                literals.append(word)
            }
            tags[index / 4] |= tag << UInt8(2 * (index % 4))
        }
        blob += tags
        for word in literals { withUnsafeBytes(of: word.littleEndian) { blob += $0 } }
        return IngestRow(
            device: device, epoch: epoch, lastSeq: window.highest, received: received, duplicates: duplicates, gaps: gaps,
            missingRanges: blob)
    }

    /// Rebuilds the bookkeeping from a stored row (format 1 or 2); a row with an unknown blob
    /// keeps its counters and starts a fresh window.
    init(row: IngestRow) {
        self.init()
        epoch = row.epoch
        received = row.received
        duplicates = row.duplicates
        gaps = row.gaps
        guard let decoded = IngestBlob.decode(row.missingRanges) else {
            window = SequenceWindow(first: nil, highest: row.lastSeq, persistedBits: [])
            return
        }
        supportsReplay = decoded.supportsReplay
        gapsFilled = decoded.gapsFilled
        window = SequenceWindow(first: decoded.first, highest: row.lastSeq, persistedBits: decoded.bits)
    }
}

/// The two blob formats of ``DeviceIngest/row(device:)``.
enum IngestBlob {
    static let zeros: UInt8 = 0, ones: UInt8 = 1, literal: UInt8 = 2

    struct Decoded {
        var first: UInt64?
        var supportsReplay: Bool
        var gapsFilled: UInt64
        var bits: [UInt64]
    }

    static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    static func decode(_ blob: [UInt8]) -> Decoded? {
        let words = SequenceWindow.wordCount
        switch blob.first {
        case 1:
            // Format 1: first seq + 1, replay flag, filled gaps and every word, 8 bytes little-endian each.
            guard blob.count == 1 + 8 * (3 + words) else { return nil }
            func word(_ index: Int) -> UInt64 {
                var value: UInt64 = 0
                for byte in (0..<8).reversed() { value = value << 8 | UInt64(blob[1 + index * 8 + byte]) }
                return value
            }
            let first = word(0)
            return Decoded(
                first: first == 0 ? nil : first - 1, supportsReplay: word(1) == 1, gapsFilled: word(2),
                bits: (0..<words).map { word(3 + $0) })
        case 2:
            var offset = 1
            func varint() -> UInt64? {
                var value: UInt64 = 0
                var shift: UInt64 = 0
                while offset < blob.count, shift < 64 {
                    let byte = blob[offset]
                    offset += 1
                    value |= UInt64(byte & 0x7F) << shift
                    if byte & 0x80 == 0 { return value }
                    shift += 7
                }
                return nil
            }
            guard let first = varint(), let replay = varint(), let filled = varint() else { return nil }
            let tagBytes = (words + 3) / 4
            guard blob.count >= offset + tagBytes else { return nil }
            let tags = Array(blob[offset..<(offset + tagBytes)])
            offset += tagBytes
            var bits: [UInt64] = []
            bits.reserveCapacity(words)
            for index in 0..<words {
                switch (tags[index / 4] >> UInt8(2 * (index % 4))) & 3 {
                case zeros: bits.append(0)
                case ones: bits.append(.max)
                case literal:
                    guard blob.count >= offset + 8 else { return nil }
                    var value: UInt64 = 0
                    for byte in (0..<8).reversed() { value = value << 8 | UInt64(blob[offset + byte]) }
                    offset += 8
                    bits.append(value)
                default: return nil
                }
            }
            guard offset == blob.count else { return nil }
            return Decoded(first: first == 0 ? nil : first - 1, supportsReplay: replay == 1, gapsFilled: filled, bits: bits)
        default:
            return nil
        }
    }
}
