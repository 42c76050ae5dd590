import FoglineEdge
import FoglineTesting
import Testing

@Suite("Sequence window")
struct SequenceWindowTests {
    @Test("in-order seqs are accepted without gaps")
    func inOrder() {
        var window = SequenceWindow()
        for seq in 0..<5_000 as Range<UInt64> {
            #expect(window.observe(seq) == .accepted(gap: nil))
        }
        #expect(window.missingRanges().isEmpty)
    }

    @Test("a skipped seq is a gap; its late arrival fills it; a second arrival is a duplicate")
    func gapFillDuplicate() {
        var window = SequenceWindow()
        #expect(window.observe(10) == .accepted(gap: nil))
        #expect(window.observe(14) == .accepted(gap: 11...13))
        #expect(window.missingRanges() == [11...13])
        #expect(window.observe(12) == .filledGap)
        #expect(window.missingRanges() == [11...11, 13...13])
        #expect(window.observe(12) == .duplicate)
        #expect(window.observe(14) == .duplicate)
    }

    @Test("a seq older than the window is too old (counter restarted without a birth)")
    func tooOld() {
        var window = SequenceWindow()
        _ = window.observe(5_000)
        #expect(window.observe(5_000 - SequenceWindow.size) == .tooOld)
        #expect(window.observe(4_999) == .tooOld)  // below the first seq seen without a birth
    }

    @Test("after a birth the stream starts at 0, so an overtaking reading leaves a gap")
    func startsAtZeroAfterBirth() {
        var window = SequenceWindow(startingAt: 0)
        #expect(window.observe(2) == .accepted(gap: 0...1))
        #expect(window.observe(0) == .filledGap)
        #expect(window.missingRanges() == [1...1])
    }

    @Test("a birth that continues the stream makes the lost tail missing, and its replay fills it")
    func continuedStream() {
        var window = SequenceWindow(startingAt: 0)
        for seq in 0...9 as ClosedRange<UInt64> { _ = window.observe(seq) }
        // Seqs 10 and 11 were acknowledged by a broker that then stopped; the device's next is 12.
        #expect(window.expect(through: 11) == 10...11)
        #expect(window.missingRanges() == [10...11])
        #expect(window.highest == 11)
        #expect(window.expect(through: 11) == nil, "announcing the same tail again finds nothing new")
        #expect(window.expect(through: 5) == nil)
        #expect(window.observe(12) == .accepted(gap: nil), "the tail was counted when announced")
        #expect(window.observe(10) == .filledGap)
        #expect(window.observe(11) == .filledGap)
        #expect(window.missingRanges().isEmpty)
    }

    @Test("a continuing birth on an empty window: from a known first seq the tail is missing, otherwise the stream starts after it")
    func continuedStreamOnEmptyWindow() {
        var born = SequenceWindow(startingAt: 0)
        #expect(born.expect(through: 3) == 0...3)
        #expect(born.observe(4) == .accepted(gap: nil))
        var unknown = SequenceWindow()
        #expect(unknown.expect(through: 3) == nil)
        #expect(unknown.observe(4) == .accepted(gap: nil))
        #expect(unknown.observe(3) == .tooOld)
    }

    @Test("matches a set model under random delivery", arguments: PropertySeeds.seeds(default: 100))
    func model(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var window = SequenceWindow()
        var seen = Set<UInt64>()
        var highest: UInt64?
        var first: UInt64?
        var next: UInt64 = UInt64(random.int(in: 0...5))
        for _ in 0..<3_000 {
            if random.chance(0.02), let top = highest {
                // A birth that continues the stream: everything up to `last` exists.
                let last = next + UInt64(random.int(in: 0...(random.chance(0.1) ? 1_500 : 40)))
                #expect(window.expect(through: last) == (last > top ? (top + 1)...last : nil), "seed \(seed)")
                highest = max(top, last)
                next = last
                continue
            }
            let seq: UInt64
            if random.chance(0.2), let top = highest {
                seq = top - min(top, UInt64(random.int(in: 0...1_500)))  // a late, replayed or duplicated one
            } else {
                next += UInt64(random.int(in: 1...(random.chance(0.05) ? 2_000 : 3)))
                seq = next
            }
            let verdict = window.observe(seq)
            let expected: SequenceWindow.Verdict
            if let top = highest, seq <= top {
                if top - seq >= SequenceWindow.size || seq < first! { expected = .tooOld }
                else { expected = seen.contains(seq) ? .duplicate : .filledGap }
            } else {
                let gapStart = highest.map { $0 + 1 }
                expected = .accepted(gap: gapStart.flatMap { seq > $0 ? $0...(seq - 1) : nil })
            }
            #expect(verdict == expected, "seed \(seed): seq \(seq) after highest \(String(describing: highest))")
            if expected != .tooOld { seen.insert(seq) }
            highest = max(highest ?? seq, seq)
            first = first ?? seq
        }
        // Persisted and restored, the window gives the same answers.
        let restored = SequenceWindow(first: window.first, highest: window.highest, persistedBits: window.persistedBits)
        #expect(restored == window)
        if let top = highest {
            let lowest = max(first!, top >= SequenceWindow.size - 1 ? top - (SequenceWindow.size - 1) : 0)
            let missing = (lowest...top).filter { !seen.contains($0) }
            let ranges = window.missingRanges(limit: .max)
            #expect(ranges.flatMap { Array($0) } == missing, "seed \(seed)")
        }
    }
}
