/// A period in which a client believed it held grant `token` of lease `key` and acted on it,
/// from `start` to `end` on one real-time clock shared by every window checked together.
public protocol LeaseValidityWindow: CustomStringConvertible {
    var key: String { get }
    var holder: String { get }
    var token: UInt64 { get }
    var start: UInt64 { get }
    var end: UInt64 { get set }
}

/// The lease-safety check beside linearizability: no two grants' validity windows overlap in real
/// time (two clients would act at once), and fencing tokens never go backwards from one grant to
/// the next. Used by the quorum simulation and the real-process chaos test alike.
public enum LeaseWindowCheck {
    public struct Violation<Window: LeaseValidityWindow>: CustomStringConvertible {
        public enum Problem: Sendable { case overlap, tokenWentBackwards }

        public var problem: Problem
        /// The window that started first, and the later one.
        public var earlier: Window
        public var later: Window

        public var description: String {
            switch problem {
            case .overlap: "overlapping validity windows \(earlier) and \(later)"
            case .tokenWentBackwards: "fencing token went backwards: \(earlier) then \(later)"
            }
        }
    }

    /// Every pair of windows of different grants of a key (by key, then start) that overlap, or
    /// whose tokens are out of order. Empty windows (`end <= start`) never count.
    public static func violations<Window: LeaseValidityWindow>(_ windows: [Window]) -> [Violation<Window>] {
        var violations: [Violation<Window>] = []
        for key in Set(windows.map(\.key)).sorted() {
            let ofKey = windows.filter { $0.key == key && $0.end > $0.start }.sorted { $0.start < $1.start }
            for (i, a) in ofKey.enumerated() {
                for b in ofKey[(i + 1)...] where b.token != a.token {
                    if b.start < a.end { violations.append(Violation(problem: .overlap, earlier: a, later: b)) }
                    if b.token < a.token { violations.append(Violation(problem: .tokenWentBackwards, earlier: a, later: b)) }
                }
            }
        }
        return violations
    }

    /// A client stops acting on a lease (every window of that grant) before it asks to release
    /// it: ends those windows at `time` at the latest.
    public static func release<Window: LeaseValidityWindow>(
        _ windows: inout [Window], key: String, holder: String, token: UInt64, at time: UInt64
    ) {
        for index in windows.indices where windows[index].key == key && windows[index].holder == holder && windows[index].token == token {
            windows[index].end = min(windows[index].end, time)
        }
    }
}
