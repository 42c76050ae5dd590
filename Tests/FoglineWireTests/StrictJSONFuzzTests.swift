import FoglineTesting
import FoglineWire
import Testing

/// Feeds hostile bytes to every decoder. Typed throws already guarantee that nothing but a
/// `PayloadRejection` can escape; these tests check that no input traps (a trap ends the
/// test process), that every rejection carries a known reason, and that whatever is
/// accepted survives an encode/decode round trip unchanged.
@Suite("Fuzzing every decoder")
struct StrictJSONFuzzTests {
    /// Valid payloads of every kind, the seeds for truncation and mutation.
    static let corpus: [String] = [
        #"{"profile":"thermostat","fw":"1.4.2","metrics":{"temp":"C","rh":"%"},"replay":true}"#,
        #"{"reason":"lost"}"#,
        #"{"seq":123,"ts":1763800000123,"values":{"temp":21.5,"on":true,"n":-1.5e-3}}"#,
        #"{"fields":{"setpoint":21.0,"mode":"h\u00e9at\n","eco":false,"x":null}}"#,
        #"{"fields":{"setpoint":22.5},"hlc":"0001763800000123-0001-a"}"#,
        #"{"id":"c-1","name":"open_valve","args":{"p":[1,{"q":"\ud83d\ude00"}]},"fence":42}"#,
        #"{"id":"c-1","status":"failed","detail":"stuck"}"#,
        #"{"from":100,"to":140}"#,
        #"{"state":"online","clock":"trusted","since":1763800000123}"#,
        "{\"s\":\"é中😀\",\"a\":[[],{},0,-0,1e5,true,null]}",
    ]

    /// Bytes that tend to matter to a JSON parser or a UTF-8 validator.
    static let interestingBytes: [UInt8] = [
        0x00, 0x09, 0x0A, 0x20, 0x22, 0x2B, 0x2C, 0x2D, 0x2E, 0x30, 0x31, 0x3A, 0x45, 0x5B, 0x5C, 0x5D, 0x65,
        0x75, 0x7B, 0x7D, 0x7F, 0x80, 0xBF, 0xC0, 0xC3, 0xE0, 0xED, 0xF0, 0xF4, 0xF5, 0xFF,
    ]

    /// Runs `bytes` through the parser and every payload decoder, checking the invariants.
    /// Returns how many decoders accepted the bytes.
    @discardableResult
    static func exercise(_ bytes: [UInt8], context: @autoclosure () -> String) -> Int {
        var accepted = 0
        do {
            let value = try StrictJSON.parse(bytes)
            accepted += 1
            let again = value.serialized()
            do {
                let reparsed = try StrictJSON.parse(again)
                if !identical(reparsed, value) {
                    Issue.record("\(context()): parse → serialize → parse changed the value")
                }
            } catch {
                Issue.record("\(context()): re-parsing the serialized value failed: \(error)")
            }
        } catch {
            check(error, context: context())
        }
        accepted += exercise(BirthPayload.self, bytes, context: context())
        accepted += exercise(DeathPayload.self, bytes, context: context())
        accepted += exercise(TelemetryPayload.self, bytes, context: context())
        accepted += exercise(ReportedPayload.self, bytes, context: context())
        accepted += exercise(DesiredPayload.self, bytes, context: context())
        accepted += exercise(CommandPayload.self, bytes, context: context())
        accepted += exercise(CommandAckPayload.self, bytes, context: context())
        accepted += exercise(ReplayRequestPayload.self, bytes, context: context())
        accepted += exercise(NodeStatusPayload.self, bytes, context: context())
        return accepted
    }

    private static func exercise<P: DevicePayload & Equatable>(_ type: P.Type, _ bytes: [UInt8], context: @autoclosure () -> String) -> Int {
        do {
            let payload = try P.decode(bytes)
            do {
                let again = try P.decode(payload.encoded())
                if again != payload { Issue.record("\(context()): \(P.kind) changed in an encode/decode round trip") }
            } catch {
                Issue.record("\(context()): the encoding of an accepted \(P.kind) payload is rejected: \(error)")
            }
            return 1
        } catch {
            check(error, context: context())
            return 0
        }
    }

    private static func check(_ rejection: PayloadRejection, context: @autoclosure () -> String) {
        if !PayloadRejection.allReasons.contains(rejection.reason) {
            Issue.record("\(context()): unknown reason \(rejection.reason)")
        }
        if rejection.description.isEmpty {
            Issue.record("\(context()): empty description for \(rejection.reason)")
        }
    }

    @Test func corpusIsValid() {
        for (index, text) in Self.corpus.enumerated() {
            #expect(Self.exercise(Array(text.utf8), context: "corpus \(index)") >= 2, "corpus \(index) is accepted by no payload decoder")
        }
    }

    @Test func everyTruncationOfAValidPayload() {
        for (index, text) in Self.corpus.enumerated() {
            let bytes = Array(text.utf8)
            for length in 0..<bytes.count {
                Self.exercise(Array(bytes[..<length]), context: "corpus \(index) cut to \(length) bytes")
                Self.exercise(Array(bytes[length...]), context: "corpus \(index) from byte \(length)")
            }
        }
    }

    @Test func everySingleByteMutationOfAValidPayload() {
        for (index, text) in Self.corpus.enumerated() {
            let bytes = Array(text.utf8)
            for position in bytes.indices {
                var replacements = Self.interestingBytes
                for bit in 0..<8 { replacements.append(bytes[position] ^ (1 << bit)) }
                for replacement in replacements where replacement != bytes[position] {
                    var mutated = bytes
                    mutated[position] = replacement
                    Self.exercise(mutated, context: "corpus \(index) with byte \(position) set to \(replacement)")
                }
                var deleted = bytes
                deleted.remove(at: position)
                Self.exercise(deleted, context: "corpus \(index) without byte \(position)")
                var doubled = bytes
                doubled.insert(bytes[position], at: position)
                Self.exercise(doubled, context: "corpus \(index) with byte \(position) doubled")
            }
        }
    }

    @Test func randomByteStrings() {
        let alphabet = Array(#"{}[]":,0123456789-+.eEtrufalsn\ "#.utf8) + [0x09, 0x0A, 0xC3, 0xA9, 0xED, 0xA0, 0xF0, 0x9F]
        for seed in PropertySeeds.seeds(default: 1) {
            var random = SeededRandom(seed: seed)
            for round in 0..<2_000 {
                let length = random.int(in: 0...160)
                let bytes: [UInt8]
                switch round % 4 {
                case 0:
                    bytes = random.bytes(count: length)
                case 1:
                    bytes = (0..<length).map { _ in random.pick(alphabet) }
                case 2:
                    // A valid payload with random splices of noise.
                    var base = Array(random.pick(Self.corpus).utf8)
                    for _ in 0..<random.int(in: 1...4) {
                        let at = random.int(in: 0...base.count)
                        base.insert(contentsOf: random.bytes(count: random.int(in: 1...3)), at: at)
                    }
                    bytes = base
                default:
                    // Deep, ragged nesting.
                    bytes = (0..<length).map { _ in random.pick(Array("[{\"a\":1,]}".utf8)) }
                }
                Self.exercise(bytes, context: "seed \(seed) round \(round) bytes \(bytes)")
            }
        }
    }
}
