import FoglineCore
import FoglineTesting
import FoglineWire
import Testing

/// Hostile and damaged input: decoding either returns a value or throws a WireError, never traps,
/// and never allocates what a limit forbids.
@Suite("Codec robustness")
struct CodecRobustnessTests {
    /// Runs every decoder on `bytes`. A successful SiteDelta decode must re-encode to something
    /// that decodes to the same value.
    static func decodeEverything(_ bytes: [UInt8], seed: UInt64, limits: DecodeLimits = DecodeLimits()) {
        do {
            let delta = try SiteDeltaCodec.decode(bytes, limits: limits)
            let again = try SiteDeltaCodec.decode(SiteDeltaCodec.encode(delta), limits: limits)
            #expect(again == delta, "seed \(seed): a decoded delta does not survive re-encoding")
        } catch {
            #expect(!error.reason.isEmpty)
        }
        _ = try? CausalContextCodec.decode(bytes, limits: limits)
        if let frame = try? PeerFrameCodec.decode(bytes, limits: limits) {
            switch frame.body {
            case .gossipDelta(let body): _ = try? body.delta.toSiteDelta(limits: limits)
            case .gossipAck(let body): _ = try? body.toReplicaSummary(limits: limits)
            case .contextExchange(let body): _ = try? body.toReplicaSummary(limits: limits)
            default: break
            }
        }
        if let frame = try? SyncFrameCodec.decode(bytes, limits: limits) {
            switch frame.body {
            case .hello(let body): _ = try? body.toReplicaSummary(limits: limits)
            case .ack(let body): _ = try? body.toReplicaSummary(limits: limits)
            case .batch(let body):
                _ = try? SiteDeltaCodec.decode(Array(body.payload), limits: limits)
                _ = try? body.base.toCausalContext(limits: limits)
            case .audit(let body): for record in body.entries { _ = try? record.toAuditEntry() }
            case .auditAck, nil: break
            }
        }
    }

    /// A valid delta of a few kilobytes with every part populated.
    static func sampleDelta(seed: UInt64) -> SiteDelta {
        var random = SeededRandom(seed: seed)
        let world = CodecWorld(&random, replicas: 2, operations: 40)
        return world.replicas[0].asDelta
    }

    @Test("2,000 random byte strings never crash a decoder")
    func randomBytes() {
        for seed in PropertySeeds.seeds(default: 2_000) {
            var random = SeededRandom(seed: seed)
            let bytes = random.bytes(count: random.int(in: 0...300))
            Self.decodeEverything(bytes, seed: seed)
        }
    }

    @Test("random bytes that start like a SiteDelta never crash the decoder")
    func structuredRandomBytes() {
        for seed in PropertySeeds.seeds(default: 500) {
            var random = SeededRandom(seed: seed)
            // schema_version = 1, then a random length-delimited field among the parts.
            var bytes: [UInt8] = [0x08, 0x01]
            for _ in 0..<random.int(in: 1...4) {
                let payload = random.bytes(count: random.int(in: 0...60))
                bytes.append(UInt8(random.int(in: 2...10)) << 3 | 2)
                bytes.append(UInt8(payload.count))
                bytes += payload
            }
            Self.decodeEverything(bytes, seed: seed)
        }
    }

    @Test("every truncation of valid frames decodes or throws")
    func truncations() {
        let seed: UInt64 = 11
        let delta = Self.sampleDelta(seed: seed)
        let frames: [[UInt8]] = [
            SiteDeltaCodec.encode(delta),
            PeerFrameCodec.encode(Fogline_V1_PeerFrame(
                from: "edge-a", site: "plant-1", sentAt: HLCTimestamp(logical: 1 << 40, node: NodeID(rawValue: 9)),
                body: .gossipDelta(Fogline_V1_GossipDelta(delta: delta, deltaSeq: 3)))),
            SyncFrameCodec.encode(Fogline_V1_SyncFrame(
                site: "plant-1", node: "edge-a", batchID: 4,
                body: .batch(Fogline_V1_SyncBatch(batchID: 4, payload: SiteDeltaCodec.encode(delta))))),
        ]
        for frame in frames {
            #expect(frame.count > 200)
            for length in 0..<frame.count {
                Self.decodeEverything(Array(frame[..<length]), seed: seed)
            }
        }
    }

    @Test("single-byte mutations of a valid delta decode or throw", arguments: PropertySeeds.seeds(default: 2))
    func mutations(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let bytes = SiteDeltaCodec.encode(Self.sampleDelta(seed: seed))
        #expect(bytes.count > 500, "seed \(seed): the sample delta is too small to exercise the decoder")
        for position in bytes.indices {
            for replacement in [bytes[position] ^ UInt8(random.int(in: 1...255)), 0x00, 0xFF] {
                var mutated = bytes
                mutated[position] = replacement
                Self.decodeEverything(mutated, seed: seed)
            }
        }
    }

    @Test("mutations of the columnar workload decode or throw")
    func columnarMutations() {
        let (delta, _, _) = CodecSiteDeltaTests.workloadDelta(devices: 20, fields: 5, stampPerField: false)
        var withKinds = delta
        var kinds = FieldMaps()
        let node = NodeID(rawValue: 3)
        for (index, value) in [FieldValue.null, .bool(true), .string("s"), .number(1)].enumerated() {
            kinds.insert(device: "d\(index % 2)", field: .init(
                name: "k\(index)", value: value, stamp: HLCTimestamp(logical: UInt64(index), node: node),
                dot: Dot(node: node, counter: UInt64(index + 1))))
        }
        withKinds.desired = kinds
        let bytes = SiteDeltaCodec.encode(withKinds)
        var random = SeededRandom(seed: 99)
        for position in bytes.indices {
            for _ in 0..<4 {
                var mutated = bytes
                mutated[position] ^= UInt8(random.int(in: 1...255))
                Self.decodeEverything(mutated, seed: 99)
            }
        }
    }

    @Test("a column claiming 2^40 entries is rejected with limit_exceeded")
    func hostileColumnInDelta() throws {
        func frame(_ build: (inout Fogline_V1_FieldMapsPart) -> Void) -> [UInt8] {
            var part = Fogline_V1_FieldMapsPart()
            part.devices = ["d"]
            part.fieldNames = ["f"]
            part.writers = [1]
            build(&part)
            var message = Fogline_V1_SiteDelta(SiteDelta(context: CausalContext()))
            message.reported = part
            return try! message.serializedBytes()
        }
        let column = { (runs: [Int64]) -> Fogline_V1_IntColumn in
            var column = Fogline_V1_IntColumn()
            column.runs = runs
            return column
        }
        let hostile: [[UInt8]] = [
            // One device with 2^40 entries.
            frame { $0.entryCount = column([1 << 40, 0, 1]) },
            // A per-entry column claiming 2^40 values for a single entry.
            frame {
                $0.entryCount = column([1, 0, 1])
                $0.fieldIndex = column([0, 0, 1 << 40])
            },
            // Many devices whose counts add up past the limit (and past Int64 on the way).
            frame {
                $0.devices = ["a", "b", "c"]
                $0.entryCount = column([.max, 0, 3])
            },
        ]
        for bytes in hostile {
            #expect(bytes.count < 64)
            #expect {
                try SiteDeltaCodec.decode(bytes)
            } throws: { error in
                (error as? WireError)?.reason == "limit_exceeded"
            }
        }
        // The entry budget also applies across parts.
        let (delta, _, _) = CodecSiteDeltaTests.workloadDelta(devices: 10, fields: 10, stampPerField: false)
        #expect {
            try SiteDeltaCodec.decode(SiteDeltaCodec.encode(delta), limits: DecodeLimits(maxEntries: 99))
        } throws: { error in
            (error as? WireError)?.reason == "limit_exceeded"
        }
        #expect(throws: Never.self) { try SiteDeltaCodec.decode(SiteDeltaCodec.encode(delta), limits: DecodeLimits(maxEntries: 101)) }
        #expect {
            try SiteDeltaCodec.decode(SiteDeltaCodec.encode(delta), limits: DecodeLimits(maxBytes: 100))
        } throws: { error in
            (error as? WireError)?.reason == "limit_exceeded"
        }
    }

    @Test("invalid values are rejected with invalid_value")
    func invalidValues() {
        let node = NodeID(rawValue: 5)
        func encodedField(_ value: FieldValue, counter: UInt64 = 1) -> [UInt8] {
            var maps = FieldMaps()
            maps.insert(device: "d", field: .init(name: "f", value: value, stamp: HLCTimestamp(logical: 1, node: node),
                                                  dot: Dot(node: node, counter: counter)))
            return SiteDeltaCodec.encode(SiteDelta(context: CausalContext(), reported: maps))
        }
        for value in [Double.nan, .infinity, -.infinity] {
            #expect {
                try SiteDeltaCodec.decode(encodedField(.number(value)))
            } throws: { error in
                (error as? WireError)?.reason == "invalid_value"
            }
        }
        #expect {
            try SiteDeltaCodec.decode(encodedField(.number(1), counter: 0))
        } throws: { error in
            (error as? WireError)?.reason == "invalid_value"
        }
        // A table index out of range.
        var message = Fogline_V1_SiteDelta(SiteDelta(context: CausalContext(), reported: {
            var maps = FieldMaps()
            maps.insert(device: "d", field: .init(name: "f", value: .number(1), stamp: HLCTimestamp(logical: 1, node: node),
                                                  dot: Dot(node: node, counter: 1)))
            return maps
        }()))
        message.reported.fieldNames = []
        #expect {
            try SiteDeltaCodec.decode(try message.serializedBytes() as [UInt8])
        } throws: { error in
            (error as? WireError)?.reason == "invalid_value"
        }
        // Presence since beyond 48 bits of milliseconds, and a zero dot in a causal context.
        var presence = Fogline_V1_SiteDelta(SiteDelta(context: CausalContext()))
        var entry = Fogline_V1_PresenceEntry()
        entry.device = "d"
        entry.sinceMs = 1 << 48
        entry.dotCounter = 1
        presence.presence.writers = [1]
        presence.presence.entries = [entry]
        var zeroDot = Fogline_V1_SiteDelta(SiteDelta(context: CausalContext()))
        zeroDot.context.cloud = [Fogline_V1_Dot()]
        for bad in [presence, zeroDot] {
            #expect {
                try SiteDeltaCodec.decode(try bad.serializedBytes() as [UInt8])
            } throws: { error in
                (error as? WireError)?.reason == "invalid_value"
            }
        }
    }

    @Test("a delta from a newer schema version is rejected with unsupported_version")
    func versionTooNew() throws {
        var message = Fogline_V1_SiteDelta(CodecRobustnessTests.sampleDelta(seed: 5))
        for version: UInt32 in [WireSchema.currentVersion + 1, 0, .max] {
            message.schemaVersion = version
            let bytes: [UInt8] = try message.serializedBytes()
            #expect {
                try SiteDeltaCodec.decode(bytes)
            } throws: { error in
                (error as? WireError) == .unsupportedVersion(found: version, newestSupported: WireSchema.currentVersion)
            }
        }
        message.schemaVersion = WireSchema.currentVersion
        #expect(throws: Never.self) { try SiteDeltaCodec.decode(try message.serializedBytes() as [UInt8]) }
    }

    @Test("errors have distinct, stable reasons and sentence-like descriptions")
    func errorReasons() {
        let errors: [WireError] = [
            .malformedProtobuf(detail: "x"), .unsupportedVersion(found: 2, newestSupported: 1),
            .limitExceeded(what: "x", limit: 1), .invalidValue(what: "x"), .missingField("x"),
        ]
        #expect(errors.map(\.reason) == ["malformed_protobuf", "unsupported_version", "limit_exceeded", "invalid_value", "missing_field"])
        for error in errors {
            #expect(error.description.first?.isUppercase == true)
            #expect(error.description.hasSuffix("."))
        }
        #expect {
            try SiteDeltaCodec.decode([0x0A, 0x05, 0x01])
        } throws: { error in
            (error as? WireError)?.reason == "malformed_protobuf"
        }
    }
}
