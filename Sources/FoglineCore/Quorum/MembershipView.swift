/// One node's view of which site members are alive: a fixed member list (from the site config)
/// with a phi-accrual detector per peer, fed by heartbeats and asked with the current time.
public struct MembershipView: Sendable {
    /// Failure-detection parameters (from the site config).
    public struct Configuration: Hashable, Sendable {
        /// Suspect a peer once its phi reaches this.
        public var threshold: Double
        /// How often peers send heartbeats; also the detector's first interval estimate.
        public var heartbeatIntervalMilliseconds: UInt64
        /// Silence tolerated beyond the usual interval before suspicion rises.
        public var acceptableHeartbeatPauseMilliseconds: UInt64
        public var minStdDeviationMilliseconds: UInt64
        /// Intervals remembered per peer.
        public var windowSize: Int

        public init(
            threshold: Double = 8, heartbeatIntervalMilliseconds: UInt64 = 500,
            acceptableHeartbeatPauseMilliseconds: UInt64 = 1_000, minStdDeviationMilliseconds: UInt64 = 100,
            windowSize: Int = 200
        ) {
            self.threshold = threshold
            self.heartbeatIntervalMilliseconds = heartbeatIntervalMilliseconds
            self.acceptableHeartbeatPauseMilliseconds = acceptableHeartbeatPauseMilliseconds
            self.minStdDeviationMilliseconds = minStdDeviationMilliseconds
            self.windowSize = windowSize
        }

        /// The per-peer detector parameters these settings mean.
        public var detectorParameters: PhiAccrualFailureDetector.Parameters {
            .init(
                threshold: threshold, maxSampleSize: windowSize,
                minStdDeviationMilliseconds: Double(minStdDeviationMilliseconds),
                acceptableHeartbeatPauseMilliseconds: Double(acceptableHeartbeatPauseMilliseconds),
                firstHeartbeatEstimateMilliseconds: Double(heartbeatIntervalMilliseconds))
        }
    }

    /// This node's name.
    public let selfName: String
    /// Every member, this node included, in config order.
    public let members: [String]
    public let configuration: Configuration
    private var detectors: [String: PhiAccrualFailureDetector]

    /// `members` must contain `selfName`; duplicates are ignored.
    public init(selfName: String, members: [String], configuration: Configuration = Configuration()) {
        precondition(members.contains(selfName), "\(selfName) is not among the members \(members)")
        var seen = Set<String>()
        self.members = members.filter { seen.insert($0).inserted }
        self.selfName = selfName
        self.configuration = configuration
        let detector = PhiAccrualFailureDetector(parameters: configuration.detectorParameters)
        detectors = Dictionary(uniqueKeysWithValues: self.members.filter { $0 != selfName }.map { ($0, detector) })
    }

    /// The peers (members other than this node).
    public var peers: [String] { members.filter { $0 != selfName } }

    /// Records a heartbeat from `peer` at `now`. Heartbeats from non-members (or from itself)
    /// are ignored: membership comes from the config, not from who talks.
    public mutating func heartbeat(from peer: String, at now: UInt64) {
        detectors[peer]?.heartbeat(at: now)
    }

    /// The suspicion level of `peer` (0 for this node, `nil` for a non-member).
    public func phi(of peer: String, at now: UInt64) -> Double? {
        if peer == selfName { return 0 }
        return detectors[peer]?.phi(at: now)
    }

    /// Whether `member` counts as alive: this node always; a peer once heard from and not
    /// suspected. A peer never heard from is not live, so a node that just booted does not
    /// count on peers it has no evidence of.
    public func isLive(_ member: String, at now: UInt64) -> Bool {
        if member == selfName { return true }
        guard let detector = detectors[member], detector.isMonitoring else { return false }
        return detector.isAvailable(at: now)
    }

    /// The live members, in config order.
    public func liveMembers(at now: UInt64) -> [String] {
        members.filter { isLive($0, at: now) }
    }
}
