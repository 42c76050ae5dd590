/// Per-device telemetry sequence bookkeeping within one birth epoch: deduplication by seq, gap
/// detection, and which gaps are still worth asking the device to replay.
///
/// It remembers the last ``size`` seqs in a ring of bits, so memory is fixed (128 bytes) however
/// long a device lives. A seq older than the window is reported as ``Verdict/tooOld``: a device
/// that restarted its counter without a new birth, which the ingest rejects (`seq_backwards`).
public struct SequenceWindow: Sendable, Equatable {
    /// How many recent seqs are remembered for deduplication and replay.
    public static let size: UInt64 = 1_024
    /// Number of words in ``persistedBits``.
    public static let wordCount = Int(size / 64)

    public enum Verdict: Sendable, Equatable {
        /// A new seq beyond the highest so far; `gap` holds the seqs it skipped, if any.
        case accepted(gap: ClosedRange<UInt64>?)
        /// A seq that was missing and has now arrived (a replay, or a late delivery).
        case filledGap
        /// A seq already received.
        case duplicate
        /// Older than the window: the device restarted its counter without a birth.
        case tooOld
    }

    /// Highest seq accepted this epoch, nil before the first.
    public private(set) var highest: UInt64?
    /// The first seq accepted this epoch: nothing below it is missing.
    public private(set) var first: UInt64?
    /// Received-bits of seqs `highest - size + 1 ... highest`, indexed by `seq % size`.
    private var received = [UInt64](repeating: 0, count: wordCount)

    /// A window for a stream whose first seq is not known (no birth seen by this node): the
    /// first seq observed starts it.
    public init() {}

    /// A window for a stream that starts at `first` (0 after a birth, per the device contract),
    /// so a reading that overtakes an earlier one is a gap, not a new start.
    public init(startingAt first: UInt64) {
        self.first = first
    }

    /// Restores a window persisted with ``persistedBits``.
    public init(first: UInt64?, highest: UInt64?, persistedBits: [UInt64]) {
        self.first = first
        self.highest = highest
        if persistedBits.count == Self.wordCount { received = persistedBits }
    }

    /// The ring of received-bits, for persistence.
    public var persistedBits: [UInt64] { received }

    public mutating func observe(_ seq: UInt64) -> Verdict {
        guard let highest else {
            let start = first ?? seq
            if seq < start { return .tooOld }
            first = start
            self.highest = seq
            setReceived(seq)
            return .accepted(gap: seq > start ? start...(seq - 1) : nil)
        }
        if seq > highest {
            slide(from: highest, to: seq)
            setReceived(seq)
            return .accepted(gap: seq > highest + 1 ? (highest + 1)...(seq - 1) : nil)
        }
        if highest - seq >= Self.size || seq < (first ?? 0) { return .tooOld }
        if isReceived(seq) { return .duplicate }
        setReceived(seq)
        return .filledGap
    }

    /// The device says its stream holds every seq up to `last` (a birth that continues the
    /// stream): the highest moves there without marking anything received, so the seqs this
    /// window lacks up to `last` become missing like any gap. Returns those newly missing, nil
    /// when `last` is not beyond what the window knows. On a window that has seen nothing and
    /// knows no first seq, nothing before `last + 1` is expected: the stream starts there.
    public mutating func expect(through last: UInt64) -> ClosedRange<UInt64>? {
        guard let highest else {
            let start = first ?? (last + 1)
            first = start
            guard last >= start else { return nil }
            self.highest = last
            return start...last
        }
        guard last > highest else { return nil }
        slide(from: highest, to: last)
        return (highest + 1)...last
    }

    /// Moves the highest from `highest` up to `seq`, clearing the bits of the seqs it passes
    /// (including `seq`'s) so that the ring forgets the ones sliding out of the window.
    private mutating func slide(from highest: UInt64, to seq: UInt64) {
        if seq - highest >= Self.size {
            received = [UInt64](repeating: 0, count: Self.wordCount)
        } else {
            for passed in (highest + 1)...seq { clearReceived(passed) }
        }
        self.highest = seq
    }

    /// Seqs within the window not yet received, as ranges (oldest first), at most `limit` ranges.
    public func missingRanges(limit: Int = 16) -> [ClosedRange<UInt64>] {
        guard let highest, let first else { return [] }
        let lowest = max(first, highest >= Self.size - 1 ? highest - (Self.size - 1) : 0)
        var ranges: [ClosedRange<UInt64>] = []
        var start: UInt64?
        var seq = lowest
        while seq <= highest && ranges.count < limit {
            if !isReceived(seq) {
                if start == nil { start = seq }
            } else if let open = start {
                ranges.append(open...(seq - 1))
                start = nil
            }
            seq += 1
        }
        if let open = start, ranges.count < limit { ranges.append(open...highest) }
        return ranges
    }

    private func isReceived(_ seq: UInt64) -> Bool {
        let slot = seq % Self.size
        return received[Int(slot / 64)] & (1 << (slot % 64)) != 0
    }

    private mutating func setReceived(_ seq: UInt64) {
        let slot = seq % Self.size
        received[Int(slot / 64)] |= 1 << (slot % 64)
    }

    private mutating func clearReceived(_ seq: UInt64) {
        let slot = seq % Self.size
        received[Int(slot / 64)] &= ~(1 << (slot % 64))
    }
}
