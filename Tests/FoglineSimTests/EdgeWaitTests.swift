import FoglineSim
import FoglineWire
import Testing

/// Devices wait for an edge node's `online` status before their birth after every
/// (re)connect (`--await-edge`), so that a birth is not lost to an edge that is itself
/// reconnecting to a restarted broker.
@Suite("Waiting for an edge before the birth")
struct EdgeWaitTests {
    static let statusTopic = FoglineTopic.nodeStatus(site: Fixtures.site, node: "edge-a").string
    static let online = Fixtures.bytes(#"{"state":"online","clock":"trusted"}"#)
    static let offline = Fixtures.bytes(#"{"state":"offline"}"#)

    /// A run whose devices wait `awaitEdgeMillis`; `retained` statuses are on the "broker"
    /// before the devices connect.
    static func run(
        _ profiles: [(String, Int)], awaitEdgeMillis: Int64 = 5_000, seed: UInt64 = 1, faults: [String] = [],
        durationMillis: Int64? = nil, retained: [(topic: String, payload: [UInt8])] = []
    ) throws -> LoopbackRun {
        var loaded: [(profile: Profile, count: Int)] = []
        for (name, count) in profiles { loaded.append((try Fixtures.profile(name), count)) }
        let simulation = try Simulation(
            profiles: loaded, site: Fixtures.site, seed: seed, faults: try FaultPlan.parse(faults),
            durationMillis: durationMillis, awaitEdgeMillis: awaitEdgeMillis)
        var run = LoopbackRun(simulation: simulation)
        for (topic, payload) in retained { run.publish(topic: topic, payload: payload, retain: true) }
        run.start(at: Fixtures.start)
        return run
    }

    /// The kinds of the device's publications, in order.
    static func kinds(_ run: LoopbackRun, device: Int) -> [SimMessageKind] {
        run.publications(ofDevice: device).map(\.message.kind)
    }

    @Test("with an edge already online (retained status), the birth follows the subscriptions at once")
    func retainedOnlineBirthAtOnce() throws {
        var run = try Self.run([("thermostat", 2)], retained: [(Self.statusTopic, Self.online)])
        let device0 = run.actions.filter { $0.action.device == 0 }
        let filters = device0.compactMap { timed -> String? in
            if case .subscribe(_, let filter, _) = timed.action { return filter }
            return nil
        }
        #expect(filters.last == "fogline/v1/plant-1/node/+/status", "the status subscription goes last: \(filters)")
        #expect(filters.count == 4)
        let birth = try #require(run.publications(.birth).first { $0.device == 0 })
        #expect(birth.time == Fixtures.start)
        run.run(until: Fixtures.start + 10_000)
        #expect(run.simulation.report().devices.allSatisfy { $0.births == 1 && $0.edgeWaitTimeouts == 0 && $0.published > 0 })
    }

    @Test("without a status, a device is born after the wait, and publishes nothing before")
    func bornAfterTheWait() throws {
        var run = try Self.run([("thermostat", 1)], awaitEdgeMillis: 3_000)
        #expect(run.simulation.devices[0].connection == .awaitingEdge(since: Fixtures.start))
        run.run(until: Fixtures.start + 2_999)
        #expect(run.publications.isEmpty, "no birth and no reading while waiting")
        run.run(until: Fixtures.start + 3_000)
        #expect(Self.kinds(run, device: 0) == [.birth, .reported])
        #expect(run.publications(.birth)[0].time == Fixtures.start + 3_000)
        run.run(until: Fixtures.start + 10_000)
        let report = run.simulation.report().devices[0]
        #expect(report.births == 1 && report.edgeWaitTimeouts == 1)
        #expect(report.published > 0 && report.lastSeq == UInt64(report.published - 1))
    }

    @Test("a node coming online ends the wait of every waiting device; offline and later statuses change nothing")
    func onlineEndsTheWait() throws {
        var run = try Self.run([("thermostat", 2), ("valve", 1)])
        run.run(until: Fixtures.start + 1_000)
        run.publish(topic: Self.statusTopic, payload: Self.offline, retain: true)
        #expect(run.publications.isEmpty, "offline is not online")
        run.run(until: Fixtures.start + 1_200)
        run.publish(topic: Self.statusTopic, payload: Self.online, retain: true)
        #expect(run.publications(.birth).map(\.device) == [0, 1, 2])
        #expect(run.publications(.birth).allSatisfy { $0.time == Fixtures.start + 1_200 })
        #expect(run.simulation.devices.allSatisfy { $0.connection == .connected(since: Fixtures.start + 1_200) })

        run.run(until: Fixtures.start + 4_000)
        let published = run.publications(.telemetry).count
        // Once born, a node's status does not gate anything (a second node, or the edge going away).
        run.publish(topic: FoglineTopic.nodeStatus(site: Fixtures.site, node: "edge-b").string, payload: Self.online, retain: true)
        run.publish(topic: Self.statusTopic, payload: Self.offline, retain: true)
        run.run(until: Fixtures.start + 8_000)
        #expect(run.publications(.birth).count == 3)
        #expect(run.publications(.telemetry).count > published, "telemetry keeps flowing after offline")
        #expect(run.simulation.report().devices.allSatisfy { $0.edgeWaitTimeouts == 0 && $0.ignoredIncoming == 0 })
    }

    @Test("a status for another site, or one that does not decode, does not end the wait")
    func otherStatusesIgnored() throws {
        var run = try Self.run([("thermostat", 1)])
        run.publish(topic: "fogline/v1/plant-2/node/edge-a/status", payload: Self.online)
        run.publish(topic: Self.statusTopic, payload: Fixtures.bytes(#"{"online":true}"#))
        run.publish(topic: Self.statusTopic, payload: [], retain: true)
        #expect(run.publications.isEmpty)
        #expect(run.simulation.report().devices[0].ignoredIncoming == 1, "the undecodable status")
    }

    @Test("after a reconnect the device waits again: the new birth (continuing the stream) follows the edge's online")
    func reconnectWaitsAgain() throws {
        var run = try Self.run([("thermostat", 1)], retained: [(Self.statusTopic, Self.online)])
        run.run(until: Fixtures.start + 3_000)
        let firstSession = run.publications(.telemetry).count
        #expect(firstSession > 0)

        // The broker restarts without persistence: the connection is lost and the retained
        // status is gone (its clearing reaches nobody who matters: the device is offline).
        run.loseConnection(device: 0)
        run.publish(topic: Self.statusTopic, payload: [], retain: true)
        // The reconnect is due 1–5 s after the loss, so by +8 s the device has reconnected and
        // waits (its 5 s wait cannot be over before +9 s).
        run.run(until: Fixtures.start + 8_000)
        guard case .awaitingEdge = run.simulation.devices[0].connection else {
            Issue.record("not waiting: \(run.simulation.devices[0].connection)")
            return
        }
        #expect(run.publications(.birth).count == 1, "no second birth before the edge is online")
        #expect(run.publications(.telemetry).count == firstSession, "no reading while waiting")
        let lastBeforeLoss = try run.publications(.telemetry).last.map { try TelemetryPayload.decode($0.message.payload).seq }
        #expect(run.simulation.devices[0].lastSeq == lastBeforeLoss, "the stream goes on")

        let onlineAt = run.now
        run.publish(topic: Self.statusTopic, payload: Self.online, retain: true)
        run.run(until: onlineAt + 4_000)
        let births = run.publications(.birth)
        #expect(births.count == 2 && births[1].time == onlineAt)
        let next = (lastBeforeLoss ?? 0) + 1
        #expect(try BirthPayload.decode(births[1].message.payload).nextSeq == next)
        let afterBirth = try run.publications(.telemetry).filter { $0.time >= onlineAt }.map { try TelemetryPayload.decode($0.message.payload).seq }
        #expect(afterBirth.count >= 3)
        #expect(afterBirth == Array(next..<(next + UInt64(afterBirth.count))))
        let report = run.simulation.report().devices[0]
        #expect(report.births == 2 && report.edgeWaitTimeouts == 0 && report.connectionLosses == 1)
    }

    @Test("a connection lost while waiting cancels the wait; the run's end while waiting says goodbye")
    func lostOrStoppedWhileWaiting() throws {
        var run = try Self.run([("thermostat", 2)], awaitEdgeMillis: 2_000, durationMillis: 60_000)
        run.loseConnection(device: 0)
        #expect(run.willsFired.map(\.device) == [0])
        run.run(until: Fixtures.start + 1_000)
        #expect(run.simulation.devices[0].connection != .awaitingEdge(since: Fixtures.start))

        var stopped = try Self.run([("valve", 1)], awaitEdgeMillis: 10_000)
        stopped.run(until: Fixtures.start + 500)
        var simulation = stopped.simulation
        let actions = simulation.stop(now: Fixtures.start + 500)
        #expect(actions.map(\.publishedMessage?.kind) == [.death, nil])
        if case .disconnect(0)? = actions.last {} else { Issue.record("no disconnect: \(actions)") }
        #expect(simulation.report().devices[0].births == 0)
    }

    @Test("desired while waiting changes the fields; the reported after the birth carries them")
    func desiredWhileWaiting() throws {
        var run = try Self.run([("thermostat", 1)])
        run.publish(
            topic: run.simulation.topic(ofDevice: 0, .desired),
            payload: Fixtures.bytes(#"{"fields":{"setpoint":23.5},"hlc":"1763800000000-0-a"}"#), retain: true)
        #expect(run.publications.isEmpty, "no reported before the birth")
        run.publish(topic: Self.statusTopic, payload: Self.online)
        #expect(Self.kinds(run, device: 0) == [.birth, .reported])
        let reported = try ReportedPayload.decode(run.publications(.reported)[0].message.payload)
        #expect(reported.fields.first { $0.name == "setpoint" }?.value == .number(23.5))
        #expect(run.simulation.report().devices[0].desiredApplied == 1)
    }

    @Test("the disconnect fault drops only born devices, and every new birth waits for the edge", arguments: SimSeeds.seeds)
    func disconnectFaultWithWait(seed: UInt64) throws {
        var run = try Self.run(
            [("power_meter", 3)], seed: seed, faults: ["disconnect=0.05"], durationMillis: 120_000,
            retained: [(Self.statusTopic, Self.online)])
        run.runToEnd()
        for (index, report) in run.simulation.report().devices.enumerated() {
            #expect(report.births == report.faultDisconnects + 1, "\(report)")
            #expect(report.edgeWaitTimeouts == 0)
            // Every birth follows the device's status subscription of the same connection.
            var subscribedToStatus = false
            for timed in run.actions where timed.action.device == index {
                switch timed.action {
                case .subscribe(_, let filter, _) where filter.hasSuffix("/status"): subscribedToStatus = true
                case .publish(_, let message) where message.kind == .birth:
                    #expect(subscribedToStatus, "birth without a status subscription")
                    subscribedToStatus = false
                default: break
                }
            }
        }
    }

    @Test("waiting is deterministic: the same seed and events give the same actions", arguments: SimSeeds.seeds)
    func deterministic(seed: UInt64) throws {
        func actions() throws -> [LoopbackRun.TimedAction] {
            var run = try Self.run([("thermostat", 3), ("door_sensor", 2)], awaitEdgeMillis: 1_500, seed: seed, faults: ["disconnect=0.1"])
            run.run(until: Fixtures.start + 700)
            run.publish(topic: Self.statusTopic, payload: Self.online, retain: true)
            run.run(until: Fixtures.start + 30_000)
            return run.actions
        }
        #expect(try actions() == actions())
    }

    @Test("with no wait (0), devices do not subscribe to the status and are born at once")
    func noWait() throws {
        let run = try Self.run([("valve", 2)], awaitEdgeMillis: 0)
        #expect(!run.actions.contains { if case .subscribe(_, let filter, _) = $0.action { filter.contains("/node/") } else { false } })
        #expect(run.publications(.birth).count == 2)
    }

    @Test("a negative or over-long wait is refused with the range")
    func invalidWait() throws {
        let thermostat = try Fixtures.profile("thermostat")
        for wait in [Int64(-1), Simulation.maxAwaitEdgeMillis + 1] {
            #expect(throws: SimulationError.self) {
                _ = try Simulation(profiles: [(thermostat, 1)], site: Fixtures.site, seed: 1, awaitEdgeMillis: wait)
            }
        }
    }

    @Test("a site name that is not a topic segment, or a reserved one, is refused saying why")
    func invalidSite() throws {
        let thermostat = try Fixtures.profile("thermostat")
        #expect(throws: SimulationError(message: "the site name \"sync\" is reserved (`fogline/v1/sync/…` are Fogline's own topics); choose another")) {
            _ = try Simulation(profiles: [(thermostat, 1)], site: "sync", seed: 1)
        }
        #expect(throws: SimulationError(message: "the site name contains the MQTT wildcard `+`, which only subscriptions may use; use 1 to 64 letters, digits, `_`, `.` or `-`")) {
            _ = try Simulation(profiles: [(thermostat, 1)], site: "plant+1", seed: 1)
        }
    }
}
