/// A binary min-heap of deadlines for the event loop's timers. Entries with the same deadline
/// fire in the order they were added.
struct TimerHeap {
    private struct Entry {
        var deadline: ContinuousClock.Instant
        var sequence: UInt64
        var action: () -> Void

        func firesBefore(_ other: Entry) -> Bool {
            deadline != other.deadline ? deadline < other.deadline : sequence < other.sequence
        }
    }

    private var entries: [Entry] = []
    private var nextSequence: UInt64 = 0

    var isEmpty: Bool { entries.isEmpty }
    var count: Int { entries.count }
    var nextDeadline: ContinuousClock.Instant? { entries.first?.deadline }

    mutating func push(deadline: ContinuousClock.Instant, action: @escaping () -> Void) {
        entries.append(Entry(deadline: deadline, sequence: nextSequence, action: action))
        nextSequence &+= 1
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].firesBefore(entries[parent]) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest action if its deadline is at or before `now`.
    mutating func popDue(now: ContinuousClock.Instant) -> (() -> Void)? {
        guard let first = entries.first, first.deadline <= now else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < entries.count && entries[left].firesBefore(entries[smallest]) { smallest = left }
                if right < entries.count && entries[right].firesBefore(entries[smallest]) { smallest = right }
                if smallest == parent { break }
                entries.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return first.action
    }

    mutating func removeAll() {
        entries.removeAll()
    }
}
