import FoglineSim
import FoglineWire
import Testing

@Suite("Replay and gaps")
struct ReplayAndGapTests {
    /// A one-metric device at 10 Hz that keeps its last 8 readings.
    static func smallBufferProfile() throws -> Profile {
        try Profile.parse(yaml: """
            kind: gauge
            firmware: "1.0"
            rate_hz: 10
            supports_replay: true
            replay_buffer: 8
            metrics:
              - name: level
                unit: m
                random_walk: { start: 5, step: 0.5, min: 0, max: 10 }
            """, file: "gauge.yaml")
    }

    private func replay(_ run: inout LoopbackRun, device: Int, from: UInt64, to: UInt64) throws -> [LoopbackRun.TimedPublication] {
        let before = run.publications.count
        let request = try ReplayRequestPayload(from: from, to: to).encoded()
        run.publish(topic: run.simulation.topic(ofDevice: device, .replay), payload: request)
        return Array(run.publications.dropFirst(before))
    }

    @Test("replay re-sends buffered readings with identical bytes, and nothing for evicted ones")
    func replayReturnsIdenticalBytes() throws {
        var run = try Fixtures.run([(try Self.smallBufferProfile(), 2)], seed: 4)
        run.run(until: Fixtures.start + 1_999)  // 20 readings (phase < 100 ms): seqs 0...19; the buffer holds 12...19
        let sent = run.publications(.telemetry).filter { $0.device == 1 }
        #expect(sent.count == 20)
        let bytesBySeq = Dictionary(uniqueKeysWithValues: try sent.map { (try TelemetryPayload.decode($0.message.payload).seq, $0.message.payload) })

        let all = try replay(&run, device: 1, from: 0, to: 19)
        #expect(all.map(\.message.kind) == Array(repeating: .replayedTelemetry, count: 8))
        #expect(all.allSatisfy { $0.device == 1 && $0.message.topic == run.simulation.topic(ofDevice: 1, .telemetry) })
        for (offset, publication) in all.enumerated() {
            #expect(publication.message.payload == bytesBySeq[UInt64(12 + offset)], "seq \(12 + offset) comes back byte for byte")
        }
        #expect(try replay(&run, device: 1, from: 2, to: 5).isEmpty, "evicted readings are not invented")
        #expect(try replay(&run, device: 1, from: 19, to: 9_007_199_254_740_992).count == 1, "a huge range costs only what is held")

        let report = run.simulation.report().devices[1]
        #expect(report.replaysAnswered == 3 && report.replayedMessages == 9)
        #expect(report.replayMisses == 12 + 4)
        #expect(report.published == 20, "replays are not counted as published")
        #expect(run.simulation.report().devices[0].replaysAnswered == 0)
    }

    @Test("lingering after the duration: no new readings, replay still answered, then death")
    func lingerAnswersReplay() throws {
        let simulation = try Simulation(
            profiles: [(try Self.smallBufferProfile(), 1)], site: Fixtures.site, seed: 4, durationMillis: 2_000, lingerMillis: 1_000)
        var run = LoopbackRun(simulation: simulation)
        run.start(at: Fixtures.start)
        run.run(until: Fixtures.start + 2_500)
        #expect(!run.simulation.isFinished)
        let readings = run.publications(.telemetry)
        #expect(readings.count == 20 && readings.allSatisfy { $0.time < Fixtures.start + 2_000 })
        let answer = try replay(&run, device: 0, from: 19, to: 19)
        #expect(answer.map(\.message.kind) == [.replayedTelemetry])
        run.runToEnd()
        #expect(run.publications(.telemetry).count == 20, "nothing sampled while lingering")
        #expect(run.publications(.death).map(\.time) == [Fixtures.start + 3_000])
        #expect(run.simulation.report().elapsedMillis == 3_000)
    }

    @Test("a device without replay ignores replay requests")
    func noReplaySupport() throws {
        var run = try Fixtures.run([("door_sensor", 1)])
        run.run(until: Fixtures.start + 3_000)
        #expect(try replay(&run, device: 0, from: 0, to: 3).isEmpty)
        #expect(run.simulation.report().devices[0].ignoredIncoming == 1)
    }

    @Test("the gap fault creates exactly the gaps it reports, and replay fills them", arguments: SimSeeds.seeds)
    func gapsAreExact(seed: UInt64) throws {
        var run = try Fixtures.run([("thermostat", 8), ("power_meter", 8), ("door_sensor", 4)], seed: seed, faults: ["gap=0.15"])
        run.run(until: Fixtures.start + 30_000)
        let report = run.simulation.report()
        var totalGaps = 0
        for device in 0..<run.simulation.deviceCount {
            let seqs = try run.publications(ofDevice: device).filter { $0.message.kind == .telemetry }.map {
                try TelemetryPayload.decode($0.message.payload).seq
            }
            #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count)
            let lastSeq = try #require(report.devices[device].lastSeq)
            let missing = Set(0...lastSeq).subtracting(seqs).sorted()
            #expect(missing.count == report.devices[device].gaps, "device \(device)")
            #expect(seqs.count == report.devices[device].published)
            totalGaps += missing.count

            // A device with replay fills every gap still in its buffer.
            guard run.simulation.profile(ofDevice: device).supportsReplay, let firstMissing = missing.first else { continue }
            let filled = try replay(&run, device: device, from: firstMissing, to: lastSeq)
                .filter { $0.message.kind == .replayedTelemetry }
                .map { try TelemetryPayload.decode($0.message.payload).seq }
            #expect(Set(missing).isSubset(of: Set(filled)))
        }
        #expect(totalGaps > 20)
    }
}

