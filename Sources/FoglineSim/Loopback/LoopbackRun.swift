import FoglineMQTT

/// Runs a ``Simulation`` in virtual time against an in-memory stand-in for the broker.
///
/// It is the reference transport: it performs ``SimAction``s exactly as the MQTT
/// transport must (see ``SimAction``), only instantly. Connections succeed at once,
/// subscription filters match as in MQTT (`+` and `#`), retained messages are delivered on
/// subscribe, and a dropped connection fires the device's will. Tests drive it, and so can a dry run of
/// `fogline-sim` that needs no broker.
///
/// ```swift
/// var run = LoopbackRun(simulation: simulation)
/// run.start(at: 1_763_800_000_000)
/// run.run(until: 1_763_800_010_000)
/// run.publish(topic: run.simulation.topic(ofDevice: 0, .cmd), payload: Array(#"{"id":"c-1","name":"open_valve","args":{},"fence":3}"#.utf8))
/// ```
public struct LoopbackRun: Sendable {
    /// The simulation, as the run has advanced it.
    public private(set) var simulation: Simulation
    /// The run's current virtual time.
    public private(set) var now: Int64 = 0
    /// Whether ``actions`` records every action (turn off for very large runs).
    public let recordsActions: Bool
    /// Every action the simulation asked for, with the time it was performed, in order.
    public private(set) var actions: [TimedAction] = []
    /// The wills the "broker" published for connections the simulation dropped.
    public private(set) var willsFired: [TimedPublication] = []
    /// Messages the edge side published with ``publish(topic:payload:retain:)`` and
    /// retained, by topic.
    public private(set) var retained: [String: [UInt8]] = [:]

    private var wills: [Int: SimMessage] = [:]
    /// Subscribers of exact topics (the devices' own channels), by topic…
    private var subscribersByTopic: [String: [Int]] = [:]
    /// …and of filters with wildcards (the nodes' status), by filter.
    private var subscribersByWildcard: [String: [Int]] = [:]
    private var topicsByDevice: [Int: [String]] = [:]

    /// A run of `simulation`; ``start(at:)`` starts it.
    public init(simulation: Simulation, recordsActions: Bool = true) {
        self.simulation = simulation
        self.recordsActions = recordsActions
    }

    /// One action and when it was performed.
    public struct TimedAction: Sendable, Hashable {
        /// The virtual time at which the run performed the action.
        public var time: Int64
        /// The action.
        public var action: SimAction
    }

    /// One message a device published (or whose will fired), and when.
    public struct TimedPublication: Sendable, Hashable {
        /// The virtual time of the publication.
        public var time: Int64
        /// The publishing device's index.
        public var device: Int
        /// The message.
        public var message: SimMessage
    }

    /// Every message the devices published, in order (wills are in ``willsFired``).
    public var publications: [TimedPublication] {
        actions.compactMap { timed in
            guard case .publish(let device, let message) = timed.action else { return nil }
            return TimedPublication(time: timed.time, device: device, message: message)
        }
    }

    /// Starts the simulation at `time`; every device connects at once.
    public mutating func start(at time: Int64) {
        now = time
        perform(simulation.start(now: time))
    }

    /// Advances virtual time to `time`, firing every timer due on the way at its due time.
    public mutating func run(until time: Int64) {
        while let deadline = simulation.nextDeadline, deadline <= time {
            now = max(now, deadline)
            perform(simulation.tick(now: now))
        }
        now = max(now, time)
    }

    /// Runs until the simulation's duration has elapsed. Requires a duration.
    public mutating func runToEnd() {
        precondition(simulation.durationMillis != nil, "runToEnd() needs a simulation with a duration")
        while !simulation.isFinished, let deadline = simulation.nextDeadline {
            run(until: deadline)
        }
    }

    /// Publishes a message as the edge would (on `desired`, `cmd` or `replay`, or a node's
    /// `status`): every device with a subscription that matches `topic` handles it now
    /// (subscribers of the exact topic in the order they subscribed, then those of matching
    /// wildcard filters). A retained message is also kept and delivered to later
    /// subscribers; an empty retained payload clears it (and is still delivered, as MQTT does).
    public mutating func publish(topic: String, payload: [UInt8], retain: Bool = false) {
        if retain {
            retained[topic] = payload.isEmpty ? nil : payload
        }
        var receivers = subscribersByTopic[topic] ?? []
        for (filter, devices) in subscribersByWildcard.sorted(by: { $0.key < $1.key }) where MQTTTopic.matches(filter: filter, topic: topic) {
            receivers += devices.filter { !receivers.contains($0) }
        }
        for device in receivers {
            perform(simulation.handle(device: device, topic: topic, payload: payload, now: now))
        }
    }

    /// The broker loses the device's connection (not the engine's doing): its will fires
    /// and the simulation is told.
    public mutating func loseConnection(device: Int) {
        guard simulation.devices[device].connection.isConnected else { return }
        closeConnection(of: device, firingWill: true)
        perform(simulation.connectionChanged(device: device, connected: false, now: now))
    }

    /// Performs actions in order; the simulation's answers to connections and retained
    /// deliveries are performed after the actions already queued, as a real transport
    /// would see them.
    private mutating func perform(_ initial: [SimAction]) {
        var queue = initial
        var next = 0
        while next < queue.count {
            let action = queue[next]
            next += 1
            if recordsActions { actions.append(TimedAction(time: now, action: action)) }
            switch action {
            case .connect(let device, _, let will):
                wills[device] = will
                queue += simulation.connectionChanged(device: device, connected: true, now: now)
            case .reconnect(let device):
                queue += simulation.connectionChanged(device: device, connected: true, now: now)
            case .subscribe(let device, let filter, _):
                let isWildcard = filter.contains("+") || filter.contains("#")
                if isWildcard {
                    if !(subscribersByWildcard[filter] ?? []).contains(device) {
                        subscribersByWildcard[filter, default: []].append(device)
                        topicsByDevice[device, default: []].append(filter)
                    }
                    for (topic, payload) in retained.sorted(by: { $0.key < $1.key }) where MQTTTopic.matches(filter: filter, topic: topic) {
                        queue += simulation.handle(device: device, topic: topic, payload: payload, now: now)
                    }
                } else {
                    if !(subscribersByTopic[filter] ?? []).contains(device) {
                        subscribersByTopic[filter, default: []].append(device)
                        topicsByDevice[device, default: []].append(filter)
                    }
                    if let payload = retained[filter] {
                        queue += simulation.handle(device: device, topic: filter, payload: payload, now: now)
                    }
                }
            case .publish:
                break  // recorded above; devices publish nothing other devices subscribe to
            case .dropConnection(let device):
                closeConnection(of: device, firingWill: true)
            case .disconnect(let device):
                closeConnection(of: device, firingWill: false)
            }
        }
    }

    private mutating func closeConnection(of device: Int, firingWill: Bool) {
        for topic in topicsByDevice.removeValue(forKey: device) ?? [] {
            subscribersByTopic[topic]?.removeAll { $0 == device }
            subscribersByWildcard[topic]?.removeAll { $0 == device }
        }
        if firingWill, let will = wills[device] {
            willsFired.append(TimedPublication(time: now, device: device, message: will))
        }
    }
}
