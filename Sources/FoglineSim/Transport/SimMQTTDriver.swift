import FoglineMQTT
import Foundation
public import Logging

/// Drives a ``Simulation`` over real MQTT: one ``MQTTMultiplexer`` thread runs every device's
/// client and the engine, so thousands of devices need no thread each. It follows the
/// ``SimAction`` contract: the engine decides every reconnect, so a client's own reconnect is
/// paused after any loss and resumed only when the engine asks.
///
/// All mutable state is touched on the multiplexer's thread only, which is why the class is
/// `@unchecked Sendable`.
public final class SimMQTTDriver: @unchecked Sendable {
    private var simulation: Simulation
    private let multiplexer: MQTTMultiplexer
    private let host: String
    private let port: Int
    private let security: SimBrokerSecurity
    private let tls: MQTTTLSConfiguration?
    private let logger: Logger
    private var clients: [MQTTMultiplexer.ClientHandle?]
    private var droppedOnPurpose: Set<Int> = []
    private var scheduledDeadline: Int64?
    private let startWall: Int64
    private let startMonotonic = ContinuousClock.now
    private let finished = DispatchSemaphore(value: 0)
    private var stopping = false
    /// Devices that have connected at least once, to log when the whole fleet is up.
    private var connectedOnce: FleetMilestone
    /// Devices that have published a birth at least once, to log when the whole fleet is
    /// born (later than connected when devices wait for an edge's `online` status).
    private var bornOnce: FleetMilestone
    /// Publishes not yet acknowledged, and those of ended sessions held for the next birth.
    private var publishes: SessionPublishes<MQTTMessage>
    /// Each device's client configuration, to replace its client on a reconnect.
    private var configurations: [MQTTClientConfiguration?]

    /// How long a client's own reconnect is held off; the engine reconnects long before.
    private static let holdOff: Duration = .seconds(24 * 3600)

    /// Drives `simulation` against the broker at `brokerURL` (`mqtt://HOST:PORT` or
    /// `mqtts://HOST:PORT`), each device authenticated as `security` says; throws a sentence
    /// that says how to write the URL when it is malformed.
    public init(simulation: Simulation, brokerURL: String, security: SimBrokerSecurity = SimBrokerSecurity(), logger: Logger) throws {
        let address = try BrokerAddress(parsing: brokerURL)
        self.simulation = simulation
        self.host = address.host
        self.port = address.port
        self.security = security
        self.tls = security.tls(usesTLSScheme: address.usesTLS)
        self.logger = logger
        multiplexer = try MQTTMultiplexer(logger: logger)
        clients = Array(repeating: nil, count: simulation.devices.count)
        connectedOnce = FleetMilestone(deviceCount: simulation.devices.count)
        bornOnce = FleetMilestone(deviceCount: simulation.devices.count)
        publishes = SessionPublishes(deviceCount: simulation.devices.count)
        configurations = Array(repeating: nil, count: simulation.devices.count)
        startWall = Int64(Date().timeIntervalSince1970 * 1_000)
    }

    /// Runs until the simulation's duration is over (or ``requestStop()``), then returns its report.
    public func run() throws -> SimReport {
        try multiplexer.start()
        multiplexer.execute { [self] in perform(simulation.start(now: now())) }
        finished.wait()
        multiplexer.stop()
        return simulation.report()
    }

    /// Ends the run early (Ctrl-C): devices publish `death` and disconnect cleanly.
    public func requestStop() {
        multiplexer.execute { [self] in
            guard !stopping else { return }
            stopping = true
            perform(simulation.stop(now: now()))
            // Give the last publishes a moment on the wire before the loop stops.
            multiplexer.schedule(after: .milliseconds(500)) { [self] in finished.signal() }
        }
    }

    // MARK: Loop thread

    private func now() -> Int64 {
        startWall + elapsedMillis()
    }

    /// Milliseconds since the driver was created, on the monotonic clock.
    private func elapsedMillis() -> Int64 {
        let elapsed = ContinuousClock.now - startMonotonic
        return elapsed.components.seconds * 1_000 + elapsed.components.attoseconds / 1_000_000_000_000_000
    }

    private func perform(_ actions: [SimAction]) {
        for action in actions {
            switch action {
            case .connect(let device, let clientID, let will):
                var configuration = MQTTClientConfiguration(host: host, port: port, clientID: clientID)
                configuration.cleanSession = true
                configuration.tls = tls
                if let password = security.passwords?[simulation.deviceID(device)] {
                    configuration.username = simulation.deviceID(device)
                    configuration.password = password
                }
                configuration.will = MQTTMessage(
                    topic: will.topic, payload: will.payload, qos: MQTTQoS(rawValue: Int32(will.qos.rawValue)) ?? .atLeastOnce,
                    retain: will.retain)
                configurations[device] = configuration
                addClient(of: device)
            case .reconnect(let device):
                droppedOnPurpose.remove(device)
                reconnect(device)
            case .subscribe(let device, let filter, let qos):
                _ = clients[device]?.subscribe(filter, qos: MQTTQoS(rawValue: Int32(qos.rawValue)) ?? .atLeastOnce)
            case .publish(let device, let message):
                if message.kind == .birth {
                    // The previous sessions' last readings go before the new birth, in their own
                    // epoch; the edge is online by now (or the wait ran out).
                    for old in publishes.takeHeld(device: device) { publish(old, device: device) }
                    noteFirstBirth(of: device)
                }
                publish(MQTTMessage(
                    topic: message.topic, payload: message.payload,
                    qos: MQTTQoS(rawValue: Int32(message.qos.rawValue)) ?? .atLeastOnce, retain: message.retain), device: device)
            case .dropConnection(let device):
                droppedOnPurpose.insert(device)
                clients[device]?.dropConnection(reconnectAfter: Self.holdOff)
            case .disconnect(let device):
                clients[device]?.disconnect()
            }
        }
        scheduleNextTick()
    }

    private func addClient(of device: Int) {
        guard let configuration = configurations[device] else { return }
        do {
            clients[device] = try multiplexer.addClient(configuration) { [self] client, event in
                handle(event, device: device, client: client)
            }
        } catch {
            logger.error("cannot create the client of device \(device)", metadata: ["error": "\(error)"])
        }
    }

    private func publish(_ message: MQTTMessage, device: Int) {
        if let mid = clients[device]?.publish(message) { publishes.sent(message, id: mid, device: device) }
    }

    /// Connects the device again. With publishes of the session that ended still
    /// unacknowledged, the client is replaced by a new one: libmosquitto would send them
    /// again as soon as the broker accepts the connection, and after a broker restart that is
    /// before the edge has resubscribed, so they would be lost. The driver keeps them and
    /// sends them itself right before the next birth, once the edge is online.
    private func reconnect(_ device: Int) {
        guard publishes.hasPending(device: device) else {
            clients[device]?.reconnect()
            return
        }
        let heldCount = publishes.holdPending(device: device)
        logger.notice("device \(simulation.deviceID(device)): \(heldCount) unacknowledged publishes held for the next session")
        clients[device]?.remove()
        clients[device] = nil
        addClient(of: device)
    }

    private func handle(_ event: MQTTMultiplexerEvent, device: Int, client: MQTTMultiplexer.ClientHandle) {
        // A replaced client's last words are no news.
        guard client == clients[device] else { return }
        switch event {
        case .connected:
            noteFirstConnection(of: device)
            perform(simulation.connectionChanged(device: device, connected: true, now: now()))
        case .published(let mid):
            publishes.acknowledged(id: mid, device: device)
        case .disconnected, .connectFailed:
            if droppedOnPurpose.contains(device) || stopping { return }
            // Pause the client's own retries: the engine schedules the reconnect.
            client.disconnect()
            perform(simulation.connectionChanged(device: device, connected: false, now: now()))
        case .message(let message):
            perform(simulation.handle(device: device, topic: message.topic, payload: message.payload, now: now()))
        case .subscribed:
            break
        }
    }

    /// Logs once when every device has connected: how long bringing the fleet up took.
    private func noteFirstConnection(of device: Int) {
        guard connectedOnce.note(device) else { return }
        logger.info("all \(connectedOnce.count) devices connected in \(elapsedMillis()) ms")
    }

    /// Logs once when every device has published a birth, and how many did so without
    /// having seen an edge `online` (the report has them per device).
    private func noteFirstBirth(of device: Int) {
        guard bornOnce.note(device) else { return }
        let unseen = simulation.devices.reduce(0) { $0 + $1.statistics.edgeWaitTimeouts }
        let detail = simulation.awaitEdgeMillis > 0 ? " (\(unseen) births without an edge online after waiting \(simulation.awaitEdgeMillis) ms)" : ""
        logger.info("all \(bornOnce.count) devices born in \(elapsedMillis()) ms\(detail)")
    }

    private func scheduleNextTick() {
        if simulation.isFinished {
            if !stopping {
                stopping = true
                multiplexer.schedule(after: .milliseconds(500)) { [self] in finished.signal() }
            }
            return
        }
        guard let deadline = simulation.nextDeadline else { return }
        if let scheduled = scheduledDeadline, scheduled <= deadline { return }
        scheduledDeadline = deadline
        let delay = max(0, deadline - now())
        multiplexer.schedule(after: .milliseconds(delay)) { [self] in
            if scheduledDeadline == deadline { scheduledDeadline = nil }
            perform(simulation.tick(now: now()))
        }
    }
}
