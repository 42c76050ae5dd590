/// What one simulated device has done so far. Counters only, so a device's report costs
/// a few hundred bytes.
public struct DeviceStatistics: Sendable, Hashable, Codable {
    /// Telemetry readings published for the first time (not counting duplicates,
    /// replays or malformed messages).
    public var published = 0
    /// Births published (one per connection).
    public var births = 0
    /// Births published without having seen an edge node `online`, after waiting
    /// ``Simulation/awaitEdgeMillis`` (no edge running, or one slower to subscribe).
    public var edgeWaitTimeouts = 0
    /// Readings sent a second time by the `duplicate` fault.
    public var duplicates = 0
    /// Bad messages sent by the `malformed` fault, by variant.
    public var malformed = MalformedCounts()
    /// Readings withheld by the `gap` fault (their seqs were skipped).
    public var gaps = 0
    /// `replay` requests answered.
    public var replaysAnswered = 0
    /// Readings re-sent in answer to `replay` requests.
    public var replayedMessages = 0
    /// Requested seqs (up to the latest reading) that were no longer in the replay buffer.
    public var replayMisses = 0
    /// Command acks sent, by status.
    public var commandsAcked = CommandAckCounts()
    /// Commands rejected because their fence was lower than the highest seen (also
    /// counted in `commandsAcked.rejected`).
    public var fenceRejections = 0
    /// `desired` messages that changed at least one accepted field (then re-reported).
    public var desiredApplied = 0
    /// Desired field values refused (wrong type or outside the profile's limits).
    public var desiredRefused = 0
    /// Connections dropped by the `disconnect` fault.
    public var faultDisconnects = 0
    /// Connections the transport reported lost or failed without the engine asking.
    public var connectionLosses = 0
    /// Incoming messages ignored: unreadable payloads, unexpected topics, `replay` to a
    /// device without replay.
    public var ignoredIncoming = 0

    /// All counters at 0.
    public init() {}

    /// Adds another device's counters (for per-profile totals).
    public mutating func add(_ other: DeviceStatistics) {
        published += other.published
        births += other.births
        edgeWaitTimeouts += other.edgeWaitTimeouts
        duplicates += other.duplicates
        malformed.add(other.malformed)
        gaps += other.gaps
        replaysAnswered += other.replaysAnswered
        replayedMessages += other.replayedMessages
        replayMisses += other.replayMisses
        commandsAcked.add(other.commandsAcked)
        fenceRejections += other.fenceRejections
        desiredApplied += other.desiredApplied
        desiredRefused += other.desiredRefused
        faultDisconnects += other.faultDisconnects
        connectionLosses += other.connectionLosses
        ignoredIncoming += other.ignoredIncoming
    }
}
