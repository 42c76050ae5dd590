import FoglineCore
import FoglineSim
import FoglineWire
import Testing

@Suite("Commands and desired state")
struct CommandAndDesiredTests {
    /// Sends a command to device 0 and returns what the device published in answer.
    private func send(
        _ run: inout LoopbackRun, id: String, name: String, args: JSONValue = .object([]), fence: UInt64
    ) throws -> [SimMessage] {
        let payload = try CommandPayload(id: id, name: name, args: args, fence: fence).encoded()
        return send(&run, raw: payload)
    }

    private func send(_ run: inout LoopbackRun, raw payload: [UInt8]) -> [SimMessage] {
        let before = run.publications.count
        run.publish(topic: run.simulation.topic(ofDevice: 0, .cmd), payload: payload)
        return run.publications.dropFirst(before).map(\.message)
    }

    private func ack(_ messages: [SimMessage]) throws -> CommandAckPayload {
        let last = try #require(messages.last)
        #expect(last.kind == .commandAck && last.topic.hasSuffix("/cmd/ack") && last.qos == .atLeastOnce)
        return try CommandAckPayload.decode(last.payload)
    }

    private func position(_ run: LoopbackRun) -> FieldValue? {
        run.simulation.reportedFields(ofDevice: 0).first { $0.name == "position" }?.value
    }

    @Test("the valve rejects a lower fence, accepts an equal or higher one, and fails unknown commands")
    func valveFencing() throws {
        var run = try Fixtures.run([("valve", 1)])
        run.run(until: Fixtures.start + 1_000)

        // Open under fence 5: reported first, then the ack.
        var answer = try send(&run, id: "c-1", name: "open_valve", fence: 5)
        #expect(answer.map(\.kind) == [.reported, .commandAck])
        #expect(answer[0].payloadText == #"{"fields":{"position":100}}"#)
        #expect(try ack(answer) == CommandAckPayload(id: "c-1", status: .ok))

        // Equal fence: the same lease holder sends again.
        answer = try send(&run, id: "c-2", name: "set_position", args: .object([(key: "position", value: .number(40))]), fence: 5)
        #expect(try ack(answer).status == .ok && position(run) == .number(40))

        // Lower fence: a stale holder. Nothing changes.
        answer = try send(&run, id: "c-3", name: "close_valve", fence: 4)
        let rejected = try ack(answer)
        #expect(answer.count == 1 && rejected.id == "c-3" && rejected.status == .rejected)
        #expect(rejected.detail?.contains("fence 4 is lower than the highest fence this device has seen (5)") == true)
        #expect(position(run) == .number(40))

        // Higher fence: a new holder; its token is now the one to beat.
        answer = try send(&run, id: "c-4", name: "close_valve", fence: 7)
        #expect(try ack(answer).status == .ok && position(run) == .number(0))
        #expect(try ack(try send(&run, id: "c-5", name: "open_valve", fence: 6)).status == .rejected)
        #expect(run.simulation.devices[0].highestFenceSeen == 7)

        // Unknown command under a current fence: failed, naming what the valve understands.
        let unknown = try ack(try send(&run, id: "c-6", name: "self_destruct", fence: 7))
        #expect(unknown.status == .failed && unknown.detail?.contains("unknown command \"self_destruct\"") == true)
        #expect(unknown.detail?.contains("open_valve") == true)
        // The fence is checked first: a stale unknown command is rejected.
        #expect(try ack(try send(&run, id: "c-7", name: "self_destruct", fence: 1)).status == .rejected)

        // Bad arguments fail without changing anything.
        let missing = try ack(try send(&run, id: "c-8", name: "set_position", fence: 7))
        #expect(missing.status == .failed && missing.detail?.contains("\"position\" is missing") == true)
        let tooFar = try ack(try send(&run, id: "c-9", name: "set_position", args: .object([(key: "position", value: .number(150))]), fence: 7))
        #expect(tooFar.status == .failed && tooFar.detail?.contains("at most 100") == true)
        let wrongType = try ack(try send(&run, id: "c-10", name: "open_valve", args: .object([(key: "percent", value: .string("half"))]), fence: 7))
        #expect(wrongType.status == .failed)
        #expect(try ack(try send(&run, id: "c-11", name: "open_valve", args: .object([(key: "percent", value: .number(25))]), fence: 7)).status == .ok)
        #expect(position(run) == .number(25))

        // A command that does not decode but names its id is answered; one without an id is not.
        let unreadable = try ack(send(&run, raw: Fixtures.bytes(#"{"id":"c-12","name":"open_valve"}"#)))
        #expect(unreadable.id == "c-12" && unreadable.status == .failed && unreadable.detail?.contains("could not be read") == true)
        #expect(send(&run, raw: Fixtures.bytes("not json")).isEmpty)

        let report = run.simulation.report().devices[0]
        #expect(report.fenceRejections == 3)
        #expect(report.commandsAcked.ok == 4 && report.commandsAcked.rejected == 3 && report.commandsAcked.failed == 5)
        #expect(report.ignoredIncoming == 1)

        // Telemetry shows the commanded position.
        run.run(until: Fixtures.start + 4_000)
        let latest = try #require(run.publications(.telemetry).last)
        #expect(try TelemetryPayload.decode(latest.message.payload).values.first { $0.name == "position" }?.value == 25)
    }

    @Test("the valve keeps its highest fence across a reconnect")
    func fenceSurvivesReconnect() throws {
        var run = try Fixtures.run([("valve", 1)])
        #expect(try ack(try send(&run, id: "c-1", name: "open_valve", fence: 9)).status == .ok)
        run.loseConnection(device: 0)
        run.run(until: Fixtures.start + 6_000)  // the engine reconnects within 5 s
        #expect(run.simulation.devices[0].connection.isConnected && run.simulation.report().devices[0].births == 2)
        #expect(try ack(try send(&run, id: "c-2", name: "close_valve", fence: 8)).status == .rejected)
        #expect(run.willsFired.count == 1 && run.simulation.report().devices[0].connectionLosses == 1)
    }

    @Test("the thermostat applies desired setpoint and mode, re-reports, and refuses what it cannot do")
    func thermostatDesired() throws {
        var run = try Fixtures.run([("thermostat", 1)])
        let topic = run.simulation.topic(ofDevice: 0, .desired)
        let before = run.publications.count
        let desired = try DesiredPayload(
            fields: [("setpoint", .number(23.5)), ("mode", .string("cool")), ("colour", .string("red"))], hlc: "h-1")
        run.publish(topic: topic, payload: desired.encoded(), retain: true)
        let answer = run.publications.dropFirst(before).map(\.message)
        #expect(answer.count == 1 && answer[0].kind == .reported)
        #expect(try ReportedPayload.decode(answer[0].payload) == ReportedPayload(fields: [("setpoint", .number(23.5)), ("mode", .string("cool"))]))
        #expect(run.simulation.reportedFields(ofDevice: 0).map(\.value) == [.number(23.5), .string("cool")])

        // Out of the profile's limits, or of the wrong type: ignored, nothing re-reported.
        let count = run.publications.count
        run.publish(topic: topic, payload: try DesiredPayload(fields: [("setpoint", .number(50)), ("mode", .number(1))], hlc: "h-2").encoded())
        #expect(run.publications.count == count)
        #expect(run.simulation.reportedFields(ofDevice: 0).map(\.value) == [.number(23.5), .string("cool")])
        // `off` is a valid mode (a string, not YAML's false).
        run.publish(topic: topic, payload: try DesiredPayload(fields: [("mode", .string("off"))], hlc: "h-3").encoded())
        #expect(run.simulation.reportedFields(ofDevice: 0)[1].value == .string("off"))
        let report = run.simulation.report().devices[0]
        #expect(report.desiredApplied == 2 && report.desiredRefused == 2)

        // The temperature follows the new setpoint (21 ± 1.6 before, 23.5 ± 1.6 after).
        run.run(until: Fixtures.start + 5_000)
        for reading in run.publications(.telemetry) {
            let temp = try TelemetryPayload.decode(reading.message.payload).values[0].value
            #expect(abs(temp - 23.5) <= 1.61)
        }
    }

    @Test("a retained desired is applied after every birth")
    func retainedDesiredOnReconnect() throws {
        var run = try Fixtures.run([("thermostat", 1)])
        let desired = try DesiredPayload(fields: [("setpoint", .number(18))], hlc: "h-1").encoded()
        run.publish(topic: run.simulation.topic(ofDevice: 0, .desired), payload: desired, retain: true)
        run.loseConnection(device: 0)
        run.run(until: Fixtures.start + 6_000)
        let afterSecondBirth = run.publications.drop { $0.message.kind != .birth || $0.time == Fixtures.start }.map(\.message)
        #expect(afterSecondBirth.map(\.kind).prefix(3) == [.birth, .reported, .reported])
        #expect(afterSecondBirth[2].payloadText == #"{"fields":{"setpoint":18,"mode":"heat"}}"#)
        #expect(run.simulation.report().devices[0].desiredApplied == 2)
    }
}
