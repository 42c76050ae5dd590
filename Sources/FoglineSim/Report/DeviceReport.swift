/// One device's part of a ``SimReport``.
public struct DeviceReport: Sendable, Hashable, Codable {
    /// The device id, e.g. `thermostat-0007`.
    public var id: String
    /// Its profile kind.
    public var profile: String
    /// Valid telemetry readings published for the first time: not duplicates, replays or
    /// malformed messages (those are counted apart), and not readings withheld by `gap`.
    public var published: Int
    /// The seq of its latest reading (published or withheld); its stream goes on across sessions.
    public var lastSeq: UInt64?
    /// Births (one per connection).
    public var births: Int
    /// Births published after waiting for an edge node's `online` status in vain.
    public var edgeWaitTimeouts: Int
    /// Readings re-sent by the `duplicate` fault.
    public var duplicates: Int
    /// Bad messages sent by the `malformed` fault.
    public var malformed: Int
    /// Bad messages by variant.
    public var malformedByVariant: MalformedCounts
    /// Seqs withheld by the `gap` fault.
    public var gaps: Int
    /// `replay` requests answered.
    public var replaysAnswered: Int
    /// Readings re-sent in answer to `replay`.
    public var replayedMessages: Int
    /// Requested seqs no longer in the replay buffer.
    public var replayMisses: Int
    /// Command acks sent, by status.
    public var commandsAcked: CommandAckCounts
    /// Commands rejected for a stale fence.
    public var fenceRejections: Int
    /// `desired` messages applied.
    public var desiredApplied: Int
    /// Desired values refused (wrong type or out of the profile's limits).
    public var desiredRefused: Int
    /// Connections dropped by the `disconnect` fault.
    public var faultDisconnects: Int
    /// Connections lost or failed without the engine asking.
    public var connectionLosses: Int
    /// Incoming messages ignored.
    public var ignoredIncoming: Int

    /// The report of device `id` from its counters.
    public init(id: String, profile: String, lastSeq: UInt64?, statistics: DeviceStatistics) {
        self.id = id
        self.profile = profile
        self.lastSeq = lastSeq
        published = statistics.published
        births = statistics.births
        edgeWaitTimeouts = statistics.edgeWaitTimeouts
        duplicates = statistics.duplicates
        malformed = statistics.malformed.total
        malformedByVariant = statistics.malformed
        gaps = statistics.gaps
        replaysAnswered = statistics.replaysAnswered
        replayedMessages = statistics.replayedMessages
        replayMisses = statistics.replayMisses
        commandsAcked = statistics.commandsAcked
        fenceRejections = statistics.fenceRejections
        desiredApplied = statistics.desiredApplied
        desiredRefused = statistics.desiredRefused
        faultDisconnects = statistics.faultDisconnects
        connectionLosses = statistics.connectionLosses
        ignoredIncoming = statistics.ignoredIncoming
    }
}

/// The totals of one profile's devices in a ``SimReport``.
public struct ProfileReport: Sendable, Hashable, Codable {
    /// The profile kind.
    public var profile: String
    /// How many devices of the profile ran.
    public var devices: Int
    /// The sum of the devices' counters (see ``DeviceStatistics``).
    public var totals: DeviceStatistics

    /// The totals of `devices` devices of `profile`.
    public init(profile: String, devices: Int, totals: DeviceStatistics) {
        self.profile = profile
        self.devices = devices
        self.totals = totals
    }
}
