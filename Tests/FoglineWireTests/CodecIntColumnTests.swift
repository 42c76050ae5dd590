import FoglineTesting
import FoglineWire
import Testing

@Suite("IntColumn run-length delta columns")
struct CodecIntColumnTests {
    /// A random column made of stretches of constants, arithmetic progressions (including
    /// wrapping ones) and arbitrary values, with the extremes of Int64 and UInt64 bit patterns.
    static func randomColumn(_ random: inout SeededRandom) -> [Int64] {
        let extremes: [Int64] = [0, 1, -1, .min, .max, .min + 1, .max - 1, Int64(bitPattern: UInt64.max - 1), 1 << 62]
        var values: [Int64] = []
        for _ in 0..<random.int(in: 0...12) {
            let length = random.int(in: 1...40)
            switch random.int(in: 0...4) {
            case 0:  // constant
                let value = random.chance(0.3) ? random.pick(extremes) : Int64(random.int(in: -5...5))
                values += Array(repeating: value, count: length)
            case 1:  // arithmetic progression, possibly wrapping around Int64
                let start = random.chance(0.5) ? random.pick(extremes) : Int64(bitPattern: random.next())
                let step = random.chance(0.5) ? Int64(random.int(in: -3...3)) : Int64(bitPattern: random.next())
                for index in 0..<length { values.append(start &+ step &* Int64(index)) }
            case 2:  // UInt64 bit patterns
                for _ in 0..<length { values.append(Int64(bitPattern: random.next())) }
            case 3:  // small noise
                for _ in 0..<length { values.append(Int64(random.int(in: -2...2))) }
            default:  // extremes
                for _ in 0..<length { values.append(random.pick(extremes)) }
            }
        }
        return values
    }

    @Test("encode → decode returns the values, for random columns", arguments: PropertySeeds.seeds(default: 300))
    func roundTrip(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let values = Self.randomColumn(&random)
        var encoder = IntColumnEncoder()
        for value in values { encoder.append(value) }
        #expect(encoder.count == values.count, "seed \(seed)")
        let runs = encoder.finish()
        #expect(runs.count % 3 == 0, "seed \(seed)")
        #expect(runs.count <= values.count * 3, "seed \(seed): more runs than values")
        let decoded = try IntColumnDecoder.decode(runs, maxLength: values.count)
        #expect(decoded == values, "seed \(seed): column did not round-trip")
        #expect(try IntColumnDecoder.length(of: runs, maxLength: .max) == values.count, "seed \(seed)")
        if !values.isEmpty {
            #expect(throws: WireError.self, "seed \(seed): a limit below the length must be enforced") {
                try IntColumnDecoder.decode(runs, maxLength: values.count - 1)
            }
        }
    }

    @Test("UInt64 values round-trip through their bit patterns")
    func unsignedValues() throws {
        let values: [UInt64] = [0, 1, .max, .max - 1, 1 << 63, (1 << 63) - 1, 42, 42, 42]
        var encoder = IntColumnEncoder()
        for value in values { encoder.append(value) }
        let decoded = try IntColumnDecoder.decode(encoder.finish(), maxLength: 100)
        #expect(decoded.map { UInt64(bitPattern: $0) } == values)
    }

    @Test("constants and progressions take one run whatever their length")
    func compactRuns() throws {
        #expect(IntColumnEncoder.runs(of: Array(repeating: 7, count: 10_000)) == [7, 0, 10_000])
        #expect(IntColumnEncoder.runs(of: (1...10_000).map { Int64($0) }) == [1, 1, 10_000])
        #expect(IntColumnEncoder.runs(of: [Int64.max, .min, .min + 1]) == [.max, 1, 3])
        // Each run starts relative to the previous run's last value.
        let runs = IntColumnEncoder.runs(of: [5, 5, 5, 9, 9, 9])
        #expect(runs == [5, 0, 3, 4, 0, 3])
        #expect(try IntColumnDecoder.decode(runs, maxLength: 6) == [5, 5, 5, 9, 9, 9])
        #expect(IntColumnEncoder.runs(of: []) == [])
        #expect(try IntColumnDecoder.decode([], maxLength: 0) == [])
    }

    @Test("a column claiming 2^40 values is rejected before anything is allocated")
    func hostileLength() {
        for runs: [Int64] in [[0, 0, 1 << 40], [0, 1, .max], [0, 0, 1 << 62, 0, 0, 1 << 62], [1, 1, 10, 0, 0, 1 << 40]] {
            #expect {
                try IntColumnDecoder.decode(runs, maxLength: DecodeLimits().maxColumnLength)
            } throws: { error in
                (error as? WireError)?.reason == "limit_exceeded"
            }
        }
        // Lengths that would overflow Int when added are caught too, with any limit.
        #expect {
            try IntColumnDecoder.length(of: [0, 0, .max, 0, 0, .max], maxLength: .max)
        } throws: { error in
            (error as? WireError)?.reason == "limit_exceeded"
        }
    }

    @Test("malformed run lists are rejected with invalid_value")
    func malformedRuns() {
        for runs: [Int64] in [[1], [1, 2], [1, 2, 0], [1, 2, -1], [0, 0, 1, 5, 5, .min]] {
            #expect {
                try IntColumnDecoder.decode(runs, maxLength: 1_000)
            } throws: { error in
                (error as? WireError)?.reason == "invalid_value"
            }
        }
    }

    @Test("encodedSize matches zigzag varint sizes")
    func encodedSize() {
        #expect(IntColumnEncoder.encodedSize(of: [0, -1, 1, 63, -64]) == 5)
        #expect(IntColumnEncoder.encodedSize(of: [64, -65]) == 4)
        #expect(IntColumnEncoder.encodedSize(of: [.max]) == 10)
        #expect(IntColumnEncoder.encodedSize(of: [.min]) == 10)
    }
}
