import FoglineSim
import FoglineWire
import Testing

@Suite("MQTT contract")
struct TelemetryContractTests {
    @Test("a device connects with its will, subscribes, then publishes birth and reported")
    func connectionSequence() throws {
        var run = try Fixtures.run([("thermostat", 2)])
        let simulation = run.simulation
        #expect(simulation.deviceID(0) == "thermostat-0001" && simulation.deviceID(1) == "thermostat-0002")
        let first = run.actions.filter { $0.action.device == 0 }.map(\.action)
        guard case .connect(0, "thermostat-0001", let will) = first[0] else {
            Issue.record("the first action should connect thermostat-0001, got \(first[0])")
            return
        }
        #expect(will.topic == "fogline/v1/plant-1/dev/thermostat-0001/death" && will.qos == .atLeastOnce && !will.retain)
        #expect(try DeathPayload.decode(will.payload) == DeathPayload(reason: "lost"))
        let prefix = "fogline/v1/plant-1/dev/thermostat-0001/"
        #expect(Array(first[1...3]) == [
            .subscribe(device: 0, filter: prefix + "desired", qos: .atLeastOnce),
            .subscribe(device: 0, filter: prefix + "cmd", qos: .atLeastOnce),
            .subscribe(device: 0, filter: prefix + "replay", qos: .atLeastOnce),
        ])
        let birth = try #require(first[4].publishedMessage)
        #expect(birth.topic == prefix + "birth" && birth.kind == .birth && birth.qos == .atLeastOnce)
        #expect(birth.payloadText == #"{"profile":"thermostat","fw":"1.4.2","metrics":{"temp":"C"},"replay":true}"#)
        let reported = try #require(first[5].publishedMessage)
        #expect(reported.topic == prefix + "reported")
        #expect(reported.payloadText == #"{"fields":{"setpoint":21,"mode":"heat"}}"#)

        run.run(until: Fixtures.start + 3_000)
        let readings = run.publications(.telemetry).filter { $0.device == 0 }
        #expect(readings.count == 3)
        for reading in readings {
            #expect(reading.message.topic == prefix + "telemetry" && reading.message.qos == .atLeastOnce)
            let payload = try TelemetryPayload.decode(reading.message.payload)
            #expect(payload.deviceTime == reading.time, "ts is the device's time (no skew)")
            #expect(payload.values.map(\.name) == ["temp"])
        }
    }

    @Test("every telemetry and birth payload of every profile decodes strictly")
    func payloadsDecode() throws {
        var run = try Fixtures.run(DeterminismTests.everyProfile, seed: 3, faults: ["disconnect=0.05", "duplicate=0.1", "gap=0.1"])
        run.run(until: Fixtures.start + 30_000)
        var telemetry = 0
        for publication in run.publications {
            let topic = try FoglineTopic.parse(publication.message.topic, expectedSite: Fixtures.site)
            switch publication.message.kind {
            case .telemetry, .duplicateTelemetry:
                #expect(topic == .device(site: Fixtures.site, device: run.simulation.deviceID(publication.device), .telemetry))
                #expect(throws: Never.self) { try TelemetryPayload.decode(publication.message.payload) }
                telemetry += 1
            case .birth:
                let birth = try BirthPayload.decode(publication.message.payload)
                let profile = run.simulation.profile(ofDevice: publication.device)
                #expect(birth.profile == profile.kind && birth.firmware == profile.firmware && birth.supportsReplay == profile.supportsReplay)
                #expect(birth.metrics.map(\.name) == profile.metrics.map(\.name))
            case .reported:
                #expect(throws: Never.self) { try ReportedPayload.decode(publication.message.payload) }
            default:
                break
            }
        }
        #expect(telemetry > 300)
    }

    @Test("seq strictly increases per device across re-births caused by disconnect, and each birth announces the next seq")
    func seqContinuesAcrossRebirths() throws {
        var run = try Fixtures.run([("thermostat", 10), ("door_sensor", 10)], seed: 11, faults: ["disconnect=0.05"])
        var maxTimers = 0
        for second in 1...120 {
            run.run(until: Fixtures.start + Int64(second) * 1_000)
            maxTimers = max(maxTimers, run.simulation.scheduledTimerCount)
        }
        let report = run.simulation.report()
        var rebirths = 0
        for device in 0..<run.simulation.deviceCount {
            var expectedSeq: UInt64 = 0
            var births = 0
            for publication in run.publications(ofDevice: device) {
                switch publication.message.kind {
                case .birth:
                    births += 1
                    let birth = try BirthPayload.decode(publication.message.payload)
                    #expect(birth.nextSeq == expectedSeq, "device \(device): birth \(births) continues the stream")
                case .telemetry:
                    let seq = try TelemetryPayload.decode(publication.message.payload).seq
                    #expect(seq == expectedSeq, "device \(device): seqs run 0, 1, 2, … across sessions")
                    expectedSeq = seq + 1
                default:
                    break
                }
            }
            #expect(births == report.devices[device].births)
            let connectedNow = run.simulation.devices[device].connection.isConnected ? 1 : 0
            #expect(births == report.devices[device].faultDisconnects + connectedNow)
            rebirths += births - 1
        }
        #expect(rebirths > 20, "the fault should have caused re-births")
        // Every drop fired the device's will, and the engine reconnected it.
        let drops = report.devices.map(\.faultDisconnects).reduce(0, +)
        #expect(run.willsFired.count == drops)
        #expect(run.willsFired.allSatisfy { $0.message.kind == .death && $0.message.payloadText == #"{"reason":"lost"}"# })
        // One heap for all timers: a few entries per device, however long the run.
        #expect(maxTimers <= 3 * run.simulation.deviceCount)
    }

    @Test("skew offsets ts only; duplicates repeat the bytes just sent")
    func skewAndDuplicates() throws {
        var run = try Fixtures.run([("power_meter", 5)], seed: 5, faults: ["skew=-3600", "duplicate=0.3"])
        run.run(until: Fixtures.start + 20_000)
        let publications = run.publications
        var duplicates = 0
        for (index, publication) in publications.enumerated() {
            switch publication.message.kind {
            case .telemetry:
                let payload = try TelemetryPayload.decode(publication.message.payload)
                #expect(payload.deviceTime == publication.time - 3_600_000)
            case .duplicateTelemetry:
                duplicates += 1
                #expect(publications[index - 1].message.kind == .telemetry)
                #expect(publications[index - 1].message.payload == publication.message.payload)
            default:
                break
            }
        }
        let report = run.simulation.report()
        #expect(duplicates > 0 && duplicates == report.profiles[0].totals.duplicates)
        #expect(report.profiles[0].totals.published == run.publications(.telemetry).count)
    }

    @Test("the power meter's energy never decreases")
    func counterIsMonotonic() throws {
        var run = try Fixtures.run([("power_meter", 3)], seed: 8, faults: ["disconnect=0.1"])
        run.run(until: Fixtures.start + 60_000)
        for device in 0..<3 {
            let energy = try run.publications(ofDevice: device).filter { $0.message.kind == .telemetry }.map {
                try TelemetryPayload.decode($0.message.payload).values[0].value
            }
            #expect(energy.count > 30)
            #expect(zip(energy, energy.dropFirst()).allSatisfy { $0 <= $1 })
            #expect(energy.last! > energy.first!)
        }
    }

    @Test("a burst multiplies the rate for its duration")
    func burstRate() throws {
        // ×10 for 2 s at the end of every 4 s: quiet [0, 2) s, burst [2, 4) s.
        var run = try Fixtures.run([("thermostat", 20)], seed: 2, faults: ["burst=10:2:4"])
        run.run(until: Fixtures.start + 4_000)
        for device in 0..<20 {
            let times = run.publications(ofDevice: device).filter { $0.message.kind == .telemetry }.map { $0.time - Fixtures.start }
            #expect(times.filter { $0 < 2_000 }.count == 2, "1 Hz while quiet")
            // The first reading inside the burst switches to 100 ms; [3, 4) s is all burst.
            #expect(times.filter { $0 >= 3_000 && $0 < 4_000 }.count == 10)
        }
    }

    @Test("the run ends with a goodbye death and a clean disconnect")
    func endOfRun() throws {
        var run = try Fixtures.run([("valve", 2)], durationMillis: 10_000)
        run.runToEnd()
        #expect(run.simulation.isFinished && run.simulation.nextDeadline == nil)
        let last = run.actions.suffix(4).map(\.action)
        #expect(last[0].publishedMessage?.payloadText == #"{"reason":"stopped"}"#)
        #expect(last[1] == .disconnect(device: 0) && last[3] == .disconnect(device: 1))
        #expect(run.actions.last?.time == Fixtures.start + 10_000)
        // Valve: 0.5 Hz for 10 s is 5 readings each.
        #expect(run.simulation.report().devices.map(\.published) == [5, 5])
        var finished = run.simulation
        #expect(finished.tick(now: Fixtures.start + 20_000).isEmpty)
    }
}
