import FoglineSim
import FoglineTesting
import FoglineWire
import Testing

/// The device behaviours that have a simple model, checked against it on random inputs.
@Suite("Model properties")
struct ModelPropertyTests {
    @Test("valve acks match the fencing model on random command streams", arguments: PropertySeeds.seeds(default: 20))
    func fencingModel(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        var run = try Fixtures.run([("valve", 1)], seed: seed)
        let topic = run.simulation.topic(ofDevice: 0, .cmd)
        var highest: UInt64?
        for step in 0..<60 {
            let fence = UInt64(random.int(in: 0...12))
            let name = random.pick(["open_valve", "close_valve", "set_position", "vent"])
            let args: JSONValue = random.chance(0.5) ? .object([(key: "position", value: .number(Double(random.int(in: -20...120))))]) : .object([])
            let before = run.publications.count
            run.publish(topic: topic, payload: try CommandPayload(id: "c-\(step)", name: name, args: args, fence: fence).encoded())
            let ack = try CommandAckPayload.decode(try #require(run.publications.dropFirst(before).last).message.payload)

            let expected: CommandAckStatus
            if let highest, fence < highest {
                expected = .rejected
            } else {
                highest = fence
                let position = args["position"]?.numberValue
                switch name {
                case "open_valve", "close_valve": expected = .ok
                case "set_position": expected = position.map { (0...100).contains($0) } == true ? .ok : .failed
                default: expected = .failed
                }
            }
            #expect(ack.status == expected, "seed \(seed), step \(step): \(name) fence \(fence) after highest \(String(describing: highest))")
        }
        #expect(run.simulation.devices[0].highestFenceSeen == highest)
    }

    @Test("replay answers exactly the requested seqs still held, byte for byte", arguments: PropertySeeds.seeds(default: 10))
    func replayModel(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        var run = try Fixtures.run([(try ReplayAndGapTests.smallBufferProfile(), 1)], seed: seed, faults: ["gap=0.2"])
        var sentBySeq: [UInt64: [UInt8]] = [:]
        for round in 1...8 {
            run.run(until: Fixtures.start + Int64(round) * 700)
            for publication in run.publications where publication.message.kind == .telemetry {
                sentBySeq[try TelemetryPayload.decode(publication.message.payload).seq] = publication.message.payload
            }
            let lastSeq = try #require(run.simulation.devices[0].lastSeq)
            let from = UInt64(random.int(in: 0...Int(lastSeq) + 3))
            let to = from + UInt64(random.int(in: 0...12))
            let before = run.publications.count
            run.publish(topic: run.simulation.topic(ofDevice: 0, .replay), payload: try ReplayRequestPayload(from: from, to: to).encoded())
            let answer = run.publications.dropFirst(before).map(\.message)

            let held = (lastSeq >= 7 ? lastSeq - 7 : 0)...lastSeq  // the buffer keeps 8 readings
            let expected = (from...to).filter { held.contains($0) }
            let answered = try answer.map { try TelemetryPayload.decode($0.payload).seq }
            #expect(answered == expected, "seed \(seed), round \(round): replay \(from)...\(to) with \(held) held")
            for (seq, message) in zip(answered, answer) where sentBySeq[seq] != nil {
                #expect(message.payload == sentBySeq[seq], "a published reading comes back identical")
            }
        }
    }
}
