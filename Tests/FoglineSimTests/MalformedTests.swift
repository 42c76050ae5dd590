import FoglineSim
import FoglineWire
import Testing

@Suite("Malformed messages")
struct MalformedTests {
    @Test("every malformed variant is refused by the strict decoders for its intended reason, and not counted as published")
    func strictDecodersRefuseThem() throws {
        var run = try Fixtures.run([("thermostat", 6), ("air_quality", 4)], seed: 21, faults: ["malformed=0.5"], rate: 2)
        run.run(until: Fixtures.start + 30_000)
        var seen: [MalformedVariant: Int] = [:]
        var latestSeq: [Int: UInt64] = [:]
        var publishedSeqs: [Int: Set<UInt64>] = [:]
        for publication in run.publications {
            let message = publication.message
            switch message.kind {
            case .telemetry:
                let seq = try TelemetryPayload.decode(message.payload).seq
                latestSeq[publication.device] = seq
                publishedSeqs[publication.device, default: []].insert(seq)
            case .malformed(let variant):
                seen[variant, default: 0] += 1
                switch variant {
                case .invalidTopic:
                    do {
                        _ = try FoglineTopic.parse(message.topic, expectedSite: Fixtures.site)
                        Issue.record("\(message.topic) should be an invalid topic")
                    } catch {
                        #expect(error.reason == "invalid_topic")
                    }
                    #expect(!message.topic.contains("+") && !message.topic.contains("#"), "MQTT forbids wildcards in published topics")
                    #expect(Fixtures.telemetryRejection(message.payload) == nil, "only the topic is wrong")
                case .seqBackwards:
                    let payload = try TelemetryPayload.decode(message.payload)
                    let latest = try #require(latestSeq[publication.device])
                    #expect(payload.seq < latest, "goes backwards without a birth")
                    #expect(publishedSeqs[publication.device]?.contains(payload.seq) == true, "never a gap being filled")
                case .oversized:
                    #expect(message.payload.count > JSONLimits.defaultMaxBytes)
                    #expect(Fixtures.telemetryRejection(message.payload) == "oversized")
                    // Under a larger limit it is valid JSON: the size alone is what is wrong.
                    #expect(throws: Never.self) { try StrictJSON.parse(message.payload, limits: JSONLimits(maxBytes: 1 << 20)) }
                default:
                    #expect(Fixtures.telemetryRejection(message.payload) == variant.expectedRejectionReason, "\(variant): \(message.payloadText.prefix(80))")
                }
                #expect(message.topic.hasSuffix("/telemetry"))
            default:
                break
            }
        }
        #expect(Set(seen.keys) == Set(MalformedVariant.allCases), "every variant was produced: \(seen)")

        let report = run.simulation.report()
        for (index, device) in report.devices.enumerated() {
            let own = run.publications(ofDevice: index)
            #expect(device.published == own.filter { $0.message.kind == .telemetry }.count)
            #expect(device.malformed == own.filter { if case .malformed = $0.message.kind { true } else { false } }.count)
        }
        let totals = report.profiles.reduce(into: MalformedCounts()) { $0.add($1.totals.malformed) }
        for variant in MalformedVariant.allCases {
            #expect(totals[variant] == seen[variant])
        }
        // Malformed messages take no seq: published readings still run 0, 1, 2, …
        for (device, seqs) in publishedSeqs {
            #expect(seqs == Set(0...(latestSeq[device] ?? 0)))
        }
    }
}
