/// Messages per second from a monotonically growing counter sampled at each refresh, over the
/// last few seconds (a single 250 ms interval would jump with every batch).
public struct MessageRate: Equatable, Sendable {
    /// How far back the rate looks.
    public var windowMs: UInt64 = 5_000
    private var samples: [(total: Double, atMs: UInt64)] = []

    public init() {}

    /// Adds a sample; returns the rate over the window, or `nil` until two samples a second apart
    /// exist. A counter that went down (the aggregator restarted) starts over.
    public mutating func add(total: Double, atMs now: UInt64) -> Double? {
        if let last = samples.last, total < last.total { samples.removeAll() }
        samples.append((total, now))
        while samples.count > 2, let first = samples.first, now > first.atMs + windowMs { samples.removeFirst() }
        guard let first = samples.first, now >= first.atMs + 1_000 else { return nil }
        return (total - first.total) * 1_000 / Double(now - first.atMs)
    }

    public static func == (lhs: MessageRate, rhs: MessageRate) -> Bool {
        lhs.windowMs == rhs.windowMs && lhs.samples.elementsEqual(rhs.samples) { $0.total == $1.total && $0.atMs == $1.atMs }
    }
}
