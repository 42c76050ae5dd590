/// A running total kept elsewhere (the MQTT client's or a transport's counter), followed so
/// that each increase is added to a metric exactly once.
struct FollowedTotal {
    private var seen = 0

    /// How much `total` grew since the last call (0 when it did not); remembers `total`.
    mutating func growth(to total: Int) -> Int {
        guard total > seen else { return 0 }
        defer { seen = total }
        return total - seen
    }

    /// Adds the growth of `total` to `counter`; returns the growth.
    @discardableResult
    mutating func add(_ total: Int, to counter: Counter) -> Int {
        let grown = growth(to: total)
        if grown > 0 { counter.increment(by: Int64(grown)) }
        return grown
    }
}
