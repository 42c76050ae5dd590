public import FoglineCore
import FoglineWire

/// The state of one simulated device.
///
/// Kept small because a simulation holds thousands: the profile is shared (the device
/// stores its index), timers live in the simulation's single queue (the device stores only
/// their due times), and the replay buffer stores numbers rather than payload bytes and
/// grows only as readings arrive. The engine changes it; everyone else reads it.
public struct SimulatedDevice: Sendable {
    /// The device id, `{kind}-{number}` (`thermostat-0007`): its topic segment and MQTT client id.
    public let id: String
    /// The index of its profile in ``Simulation/profiles``.
    public let profileIndex: Int
    /// Its connection, as the engine sees it.
    public internal(set) var connection: DeviceConnectionState = .idle
    /// The `seq` its next reading gets. Runs on across reconnections (each birth after the first
    /// continues the stream, carrying it); starts at 0 when the device (the simulation) starts.
    public internal(set) var nextSeq: UInt64 = 0
    /// The highest command fence it has seen (from commands it did not reject), if any.
    public internal(set) var highestFenceSeen: UInt64?
    /// Its reported field values, in the order of the profile's `reported`.
    public internal(set) var reportedValues: [FieldValue]
    /// What it has done so far.
    public internal(set) var statistics = DeviceStatistics()

    /// The `seq` of its latest reading (published or withheld), if any.
    public var lastSeq: UInt64? { nextSeq == 0 ? nil : nextSeq - 1 }

    /// `fogline/v1/{site}/dev/{id}/`: every topic of the device is this plus a channel
    /// (``FoglineTopic/DeviceChannel``).
    let topicPrefix: String
    /// The topic of its readings, built once because it is used for almost every message.
    let telemetryTopic: String
    var signals: [SignalState]
    /// When it last sampled its metrics (the counter generator's clock).
    var lastSampleAt: Int64?
    var replay: ReplayRing
    /// Signal values draw from this stream…
    var signalRandom: SimRandom
    /// …and fault decisions and timing jitter from this one, so faults never change values.
    var faultRandom: SimRandom
    /// The due time of its armed timers, `Int64.max` when disarmed. A queue entry whose due
    /// time differs is stale and skipped.
    var telemetryDue = Int64.max
    var disconnectDue = Int64.max
    var reconnectDue = Int64.max
    var edgeWaitDue = Int64.max
    /// The seqs of its two latest published readings in this session, newest first: the
    /// `seq_backwards` malformed message reuses the older one.
    var latestPublishedSeq: UInt64?
    var previousPublishedSeq: UInt64?

    init(id: String, profileIndex: Int, runtime: ProfileRuntime, site: String, seed: UInt64, index: Int) {
        self.id = id
        self.profileIndex = profileIndex
        telemetryTopic = FoglineTopic.device(site: site, device: id, .telemetry).string
        topicPrefix = String(telemetryTopic.dropLast(FoglineTopic.DeviceChannel.telemetry.rawValue.count))
        reportedValues = runtime.initialReported
        signalRandom = SimRandom(seed: seed, stream: UInt64(index), substream: 1)
        faultRandom = SimRandom(seed: seed, stream: UInt64(index), substream: 2)
        signals = []
        signals.reserveCapacity(runtime.profile.metrics.count)
        for metric in runtime.profile.metrics {
            signals.append(SignalState(for: metric.generator, random: &signalRandom))
        }
        replay = ReplayRing(
            capacity: runtime.profile.supportsReplay ? runtime.profile.replayBufferSize : 0,
            metricCount: runtime.profile.metrics.count)
    }

    /// The topic of one of its channels: ``FoglineTopic/device(site:device:_:)``'s string,
    /// without building the prefix again.
    func topic(_ channel: FoglineTopic.DeviceChannel) -> String {
        topicPrefix + channel.rawValue
    }

    /// A new connection. The stream goes on (`seq` and the replay buffer are kept), but the
    /// `seq_backwards` fault reuses only seqs published in this session: an older one may be
    /// a reading a stopped broker lost, which the edge asks for as a gap and would accept.
    mutating func beginSession() {
        latestPublishedSeq = nil
        previousPublishedSeq = nil
    }

    mutating func disarmSessionTimers() {
        telemetryDue = .max
        disconnectDue = .max
        edgeWaitDue = .max
    }

    mutating func notePublished(seq: UInt64) {
        previousPublishedSeq = latestPublishedSeq
        latestPublishedSeq = seq
    }
}
