import Foundation

/// Where a node reads wall time (milliseconds since the Unix epoch). The system clock in
/// production; tests inject one to boot a node in 1970 and step it forward as NTP would.
/// Durations never come from here: they use the monotonic clock.
public struct WallClock: Sendable {
    public let milliseconds: @Sendable () -> UInt64

    public init(milliseconds: @escaping @Sendable () -> UInt64) {
        self.milliseconds = milliseconds
    }

    public static let system = WallClock { UInt64(max(0, Date().timeIntervalSince1970 * 1_000)) }
}
