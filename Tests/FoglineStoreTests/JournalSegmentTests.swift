import FoglineCore
@testable import FoglineStore
import FoglineTesting
import Testing

@Suite("Journal segments: a commit's readings and ingest rows")
struct JournalSegmentTests {
    @Test("a segment decodes to what was encoded, bit for bit; a truncated one is refused", arguments: PropertySeeds.seeds(default: 50))
    func roundTrip(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let writers = (0..<random.int(in: 1...3)).map { _ in NodeID(rawValue: random.next()) }
        let names = (0..<8).map { "device-\($0)" }
        var segment = JournalSegment()
        for _ in 0..<random.int(in: 0...4) {
            // Readings of several writers and devices, interleaved, a key possibly twice.
            for entry in RawChunkTests.entries(&random, writer: random.pick(writers), count: random.int(in: 0...60)) {
                segment.readings.append(JournalSegment.Reading(
                    device: Int64(random.int(in: 0...7)), epoch: entry.epoch, seq: entry.seq, reading: entry.reading,
                    rollupDots: random.int(in: 0...4)))
            }
        }
        segment.readings.shuffle(using: &random)
        for _ in 0..<random.int(in: 0...20) {
            let device = Int64(random.int(in: 0...7))
            segment.ingest.append(JournalSegment.Ingest(device: device, row: IngestRow(
                device: names[Int(device)], epoch: random.chance(0.2) ? random.next() : UInt64(random.int(in: 0...5)),
                lastSeq: random.chance(0.2) ? nil : UInt64(random.int(in: 0...1_000_000)),
                received: random.next() >> UInt64(random.int(in: 0...63)), duplicates: UInt64(random.int(in: 0...9)),
                gaps: UInt64(random.int(in: 0...9)), missingRanges: random.bytes(count: random.int(in: 0...12)))))
        }
        let blob = segment.encode()
        let decoded = try #require(blob.withUnsafeBytes { JournalSegment.decode($0, deviceName: { names[Int($0)] }) }, "seed \(seed)")
        #expect(decoded.ingest == segment.ingest, "seed \(seed)")
        #expect(decoded.readings.count == segment.readings.count)
        for (got, wanted) in zip(decoded.readings, segment.readings) {
            #expect(got.device == wanted.device && got.epoch == wanted.epoch && got.seq == wanted.seq && got.rollupDots == wanted.rollupDots)
            #expect(got.reading.stamp == wanted.reading.stamp && got.reading.dotCounter == wanted.reading.dotCounter, "seed \(seed)")
            #expect(got.reading.deviceTime == wanted.reading.deviceTime)
            #expect(got.reading.values.map(\.name) == wanted.reading.values.map(\.name))
            #expect(got.reading.values.map(\.value.bitPattern) == wanted.reading.values.map(\.value.bitPattern), "seed \(seed)")
        }
        for length in stride(from: 0, to: blob.count, by: max(1, blob.count / 40)) {
            #expect(Array(blob[..<length]).withUnsafeBytes { JournalSegment.decode($0, deviceName: { names[Int($0)] }) } == nil,
                    "seed \(seed), \(length) bytes")
        }
        if !segment.ingest.isEmpty {
            #expect(blob.withUnsafeBytes { JournalSegment.decode($0, deviceName: { _ in nil }) } == nil, "an unknown device id")
        }
    }

    @Test("a thermostat's reading takes a few dozen bytes in a commit of 200 devices")
    func compact() {
        let writer = NodeID(name: "edge-a")
        var segment = JournalSegment()
        for device in 0..<200 {
            let epoch = 115_592_400_000_000_000 + UInt64(device) * 65_536 * 7
            segment.readings.append(JournalSegment.Reading(
                device: Int64(device + 1), epoch: epoch, seq: 12_345,
                reading: .init(
                    values: [.init(name: "temp", value: 21.37 + Double(device) / 100)], deviceTime: 1_763_800_000_000 + Int64(device),
                    stamp: HLCTimestamp(logical: epoch + 900 * 65_536 + UInt64(device), node: writer), dotCounter: 5_000 + UInt64(device) * 2),
                rollupDots: 1))
            segment.ingest.append(JournalSegment.Ingest(
                device: Int64(device + 1),
                row: IngestRow(device: "thermostat-\(device)", epoch: epoch, lastSeq: 12_345, received: 12_346, duplicates: 0, gaps: 0)))
        }
        let bytes = segment.encode().count
        // 36 bytes per reading with its ingest row when written; a row per reading and per ingest row took ~120.
        #expect(bytes / 200 < 60, "\(bytes / 200) bytes per reading")
    }
}
