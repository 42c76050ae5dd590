/// What a scheduled timer does when it fires.
enum TimerPurpose: UInt8, Sendable, Comparable {
    /// The device samples and publishes its next telemetry reading.
    case telemetry
    /// The device reconnects after a dropped or failed connection.
    case reconnect
    /// The `disconnect` fault drops the device's connection.
    case disconnectFault
    /// A connected device has waited ``Simulation/awaitEdgeMillis`` for an edge node's
    /// `online` status and publishes its birth anyway.
    case edgeWait

    static func < (lhs: TimerPurpose, rhs: TimerPurpose) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One pending timer: 16 bytes, so that thousands of devices cost little.
struct TimerEntry: Sendable, Hashable, Comparable {
    var due: Int64
    var device: Int32
    var purpose: TimerPurpose

    /// Earlier first; ties broken by device and then purpose, so that the firing order (and
    /// with it every message the engine produces) never depends on insertion order.
    static func < (lhs: TimerEntry, rhs: TimerEntry) -> Bool {
        if lhs.due != rhs.due { return lhs.due < rhs.due }
        if lhs.device != rhs.device { return lhs.device < rhs.device }
        return lhs.purpose < rhs.purpose
    }
}

/// A binary min-heap of timers: one heap for all devices instead of a timer per device.
///
/// Timers are never removed from the middle. A device that disarms a timer (it
/// disconnected, say) just forgets the due time it stored; the stale entry is skipped when
/// it reaches the top (see `Simulation.isCurrent(_:)`). Each device re-arms a purpose only
/// after the previous entry fired or went stale, so the heap holds a few entries per
/// device at most.
struct TimerQueue: Sendable {
    private var heap: [TimerEntry] = []

    init(reservingCapacity capacity: Int = 0) {
        heap.reserveCapacity(capacity)
    }

    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }

    /// The earliest pending entry.
    var earliest: TimerEntry? { heap.first }

    mutating func schedule(_ entry: TimerEntry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child] < heap[parent] else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func removeEarliest() -> TimerEntry? {
        guard let first = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                guard left < heap.count else { break }
                let right = left + 1
                let smaller = right < heap.count && heap[right] < heap[left] ? right : left
                guard heap[smaller] < heap[parent] else { break }
                heap.swapAt(smaller, parent)
                parent = smaller
            }
        }
        return first
    }

    mutating func removeAll() {
        heap.removeAll()
    }
}
