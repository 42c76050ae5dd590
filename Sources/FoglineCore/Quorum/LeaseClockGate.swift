/// Whether a node may take new leases, given how far it trusts its wall clock: a node that
/// booted with its clock in 1970, or before NTP synced, waits until the clock is trusted or
/// `graceMilliseconds` have passed since it started (a site without any time source must still
/// run). Leases themselves are timed with monotonic clocks; the gate keeps a node whose writes
/// would carry stale timestamps from taking over devices while a node with a good clock can.
///
/// A value type; time (the node's monotonic milliseconds since start) is passed in.
public struct LeaseClockGate: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        /// The wall clock is trusted: new leases are taken.
        case trusted
        /// Untrusted, still within the grace: new leases are refused for this much longer.
        case waiting(remainingMilliseconds: UInt64)
        /// Untrusted, but the grace has passed: new leases are taken anyway.
        case graceElapsed
    }

    public let graceMilliseconds: UInt64

    public init(graceMilliseconds: UInt64) {
        self.graceMilliseconds = graceMilliseconds
    }

    public func state(trust: HybridLogicalClock.Trust, monotonicMilliseconds now: UInt64) -> State {
        if trust == .trusted { return .trusted }
        return now >= graceMilliseconds ? .graceElapsed : .waiting(remainingMilliseconds: graceMilliseconds - now)
    }

    public func allowsNewLeases(trust: HybridLogicalClock.Trust, monotonicMilliseconds now: UInt64) -> Bool {
        if case .waiting = state(trust: trust, monotonicMilliseconds: now) { return false }
        return true
    }
}

/// The check a node applies to every peer frame's `sent_at`: a peer whose wall clock is more than
/// `maxOffsetMilliseconds` ahead of this node's is rejected (its frames are not applied: no
/// heartbeat, no quorum message, no gossip), so its timestamps can neither win last-writer-wins
/// fields nor drag clocks forward. A node that does not trust its own clock judges nobody.
public enum PeerClockCheck {
    public enum Verdict: Sendable, Equatable {
        case accepted
        case aheadBy(milliseconds: UInt64)
    }

    public static func verdict(
        sentAtMilliseconds: UInt64, wallMilliseconds: UInt64, maxOffsetMilliseconds: UInt64, localClockTrusted: Bool
    ) -> Verdict {
        guard localClockTrusted, sentAtMilliseconds > wallMilliseconds &+ maxOffsetMilliseconds else { return .accepted }
        return .aheadBy(milliseconds: sentAtMilliseconds - wallMilliseconds)
    }
}
