/// A hybrid logical clock (Kulkarni et al., 2014) as a value-type state machine.
///
/// Wall time is passed in (milliseconds since the Unix epoch); the clock never reads one.
/// It is restart-safe on boards without a real-time clock: it asks its shell to persist an
/// upper bound on the timestamps it issues (``Tick/boundToPersist``), and a clock restored
/// from that bound never issues a timestamp at or below one issued before the restart, even if
/// the board boots in 1970. While the wall clock is behind the clock's physical component by
/// more than `maxOffset`, the clock keeps issuing monotonic timestamps and reports
/// ``Trust/untrusted(behindByMilliseconds:)``.
public struct HybridLogicalClock: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// A remote timestamp further ahead of local wall time than this is rejected.
        public var maxOffsetMilliseconds: UInt64
        /// How far ahead of the timestamps issued the persisted bound reaches. The clock asks
        /// for a new bound when fewer than half of it remain; the shell must persist it before
        /// that half is used up (a few seconds).
        public var persistWindowMilliseconds: UInt64
        /// A wall clock before this is never trusted, even on a first boot with no persisted
        /// bound to compare with: a board without a real-time clock starts in 1970.
        public var minimumTrustedWallMilliseconds: UInt64

        /// 2025-01-01T00:00:00Z.
        public static let defaultMinimumTrustedWallMilliseconds: UInt64 = 1_735_689_600_000

        public init(
            maxOffsetMilliseconds: UInt64 = 500, persistWindowMilliseconds: UInt64 = 2_000,
            minimumTrustedWallMilliseconds: UInt64 = Configuration.defaultMinimumTrustedWallMilliseconds
        ) {
            self.maxOffsetMilliseconds = maxOffsetMilliseconds
            self.persistWindowMilliseconds = max(2, persistWindowMilliseconds)
            self.minimumTrustedWallMilliseconds = minimumTrustedWallMilliseconds
        }
    }

    /// What `now` and `update` return: the timestamp, and a bound the shell must persist.
    public struct Tick: Sendable, Equatable {
        public let timestamp: HLCTimestamp
        /// When set, the shell persists this upper bound (milliseconds) durably; on restart it
        /// passes the last persisted value to ``init(node:configuration:persistedBound:wallMilliseconds:)``.
        public let boundToPersist: UInt64?

        @inlinable
        init(timestamp: HLCTimestamp, boundToPersist: UInt64?) {
            self.timestamp = timestamp
            self.boundToPersist = boundToPersist
        }
    }

    /// Whether local wall time can be trusted for this clock.
    public enum Trust: Sendable, Equatable {
        case trusted
        /// The wall clock is this far behind the clock (1970 boot, NTP not synced, a jump back).
        case untrusted(behindByMilliseconds: UInt64)
    }

    /// Why a remote timestamp was not adopted. The clock is unchanged.
    public enum Rejection: Error, Sendable, Equatable, CustomStringConvertible {
        case tooFarAhead(remote: HLCTimestamp, aheadByMilliseconds: UInt64, maxOffsetMilliseconds: UInt64)

        public var description: String {
            switch self {
            case .tooFarAhead(let remote, let ahead, let limit):
                "Rejected a timestamp from node \(remote.node) that is \(ahead) ms ahead of local time "
                    + "(limit \(limit) ms): check that node's clock (NTP) or raise hlc.max_offset_ms."
            }
        }
    }

    public let node: NodeID
    public let configuration: Configuration
    /// `milliseconds << 16 | counter` of the last timestamp issued.
    @usableFromInline var last: UInt64
    /// The bound most recently handed to the shell to persist (milliseconds).
    @usableFromInline var requestedBound: UInt64

    /// A clock for `node`. Pass the last persisted bound (nil on first boot): the clock starts
    /// at `max(wall, persistedBound)` so it never repeats a timestamp issued before a restart.
    public init(
        node: NodeID,
        configuration: Configuration = .init(),
        persistedBound: UInt64?,
        wallMilliseconds: UInt64
    ) {
        self.node = node
        self.configuration = configuration
        let bound = min(persistedBound ?? 0, HLCTimestamp.maxMilliseconds)
        self.last = max(Self.clamp(wallMilliseconds), bound) << 16
        self.requestedBound = bound
    }

    /// The current timestamp (a local or send event). Costs about one comparison.
    @inlinable
    public mutating func now(wallMilliseconds: UInt64) -> Tick {
        let wall = Self.clamp(wallMilliseconds) << 16
        let next = last &+ 1
        last = wall > next ? wall : next
        return tick()
    }

    /// Merges a timestamp received from another node (a receive event).
    ///
    /// A timestamp more than `maxOffsetMilliseconds` ahead of `wallMilliseconds` is rejected and
    /// leaves the clock unchanged: a peer with a runaway clock cannot drag this one forward.
    public mutating func update(
        receiving remote: HLCTimestamp,
        wallMilliseconds: UInt64
    ) throws(Rejection) -> Tick {
        let wallMillis = Self.clamp(wallMilliseconds)
        if remote.milliseconds > wallMillis &+ configuration.maxOffsetMilliseconds {
            throw .tooFarAhead(
                remote: remote,
                aheadByMilliseconds: remote.milliseconds - wallMillis,
                maxOffsetMilliseconds: configuration.maxOffsetMilliseconds)
        }
        let wall = wallMillis << 16
        let known = max(last, remote.logical)
        last = wall > known ? wall : known &+ 1
        return tick()
    }

    /// The bound most recently handed to the shell to persist (milliseconds; 0 before the first).
    public var lastRequestedBound: UInt64 { requestedBound }

    /// The last timestamp issued.
    public var lastIssued: HLCTimestamp { HLCTimestamp(logical: last, node: node) }

    /// `.untrusted` while the wall clock lags this clock by more than `maxOffsetMilliseconds`,
    /// or reads earlier than ``Configuration/minimumTrustedWallMilliseconds``.
    public func trust(wallMilliseconds: UInt64) -> Trust {
        let physical = last >> 16
        let wall = Self.clamp(wallMilliseconds)
        if wall < configuration.minimumTrustedWallMilliseconds {
            return .untrusted(behindByMilliseconds: max(physical, configuration.minimumTrustedWallMilliseconds) - wall)
        }
        if wall &+ configuration.maxOffsetMilliseconds >= physical { return .trusted }
        return .untrusted(behindByMilliseconds: physical - wall)
    }

    @inlinable
    mutating func tick() -> Tick {
        let timestamp = HLCTimestamp(logical: last, node: node)
        let physical = last >> 16
        // Ask for a new bound while half a window is still left, so the shell has time to write it.
        guard physical &+ configuration.persistWindowMilliseconds / 2 > requestedBound else {
            return Tick(timestamp: timestamp, boundToPersist: nil)
        }
        requestedBound = min(physical &+ configuration.persistWindowMilliseconds, HLCTimestamp.maxMilliseconds)
        return Tick(timestamp: timestamp, boundToPersist: requestedBound)
    }

    @inlinable
    static func clamp(_ milliseconds: UInt64) -> UInt64 {
        min(milliseconds, HLCTimestamp.maxMilliseconds)
    }
}
