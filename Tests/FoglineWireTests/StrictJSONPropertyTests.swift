import FoglineTesting
import FoglineWire
import Testing

/// Random JSON values, and random but equivalent spellings of them, for property tests.
struct RandomJSON {
    var random: SeededRandom

    init(seed: UInt64) {
        random = SeededRandom(seed: seed)
    }

    /// A random value nested at most `depth` containers deep.
    mutating func value(depth: Int) -> JSONValue {
        let kind = depth > 0 ? random.int(in: 0...7) : random.int(in: 0...4)
        switch kind {
        case 0: return .null
        case 1: return .bool(random.chance(0.5))
        case 2, 3: return .number(number())
        case 4: return .string(string())
        case 5: return .array((0..<random.int(in: 0...5)).map { _ in value(depth: depth - 1) })
        default:
            var keys = Set<String>()
            var members: [(key: String, value: JSONValue)] = []
            for _ in 0..<random.int(in: 0...5) {
                let key = string()
                guard keys.insert(key).inserted else { continue }  // keys unique as Swift strings
                members.append((key: key, value: value(depth: depth - 1)))
            }
            return .object(members)
        }
    }

    mutating func number() -> Double {
        switch random.int(in: 0...6) {
        case 0: return Double(random.int(in: -1000...1000))
        case 1: return Double(Int64.random(in: -(1 << 53)...(1 << 53), using: &random))
        case 2: return Double(random.int(in: -100_000...100_000)) / 100
        case 3: return random.pick([0, -0.0, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .greatestFiniteMagnitude,
                                    -.greatestFiniteMagnitude, .leastNormalMagnitude, 9_007_199_254_740_992, 1e300, 1e-300])
        default:
            while true {
                let double = Double(bitPattern: random.next())
                if double.isFinite { return double }
            }
        }
    }

    mutating func string() -> String {
        var text = ""
        for _ in 0..<random.int(in: 0...8) {
            switch random.int(in: 0...9) {
            case 0: text.unicodeScalars.append(Unicode.Scalar(UInt8(random.int(in: 0...0x1F))))
            case 1: text += random.pick(["\"", "\\", "/", "\u{7F}", "\u{2028}", "\u{FEFF}"])
            case 2: text += random.pick(["é", "e\u{301}", "中", "😀", "\u{10FFFF}", "\u{FFFD}", "ß"])
            case 3:
                // Any scalar, BMP or astral, never a surrogate.
                let value = UInt32(random.int(in: 0...0x10FFFF))
                if let scalar = Unicode.Scalar(value) { text.unicodeScalars.append(scalar) }
            default:
                text.unicodeScalars.append(Unicode.Scalar(UInt8(random.int(in: 0x20...0x7E))))
            }
        }
        return text
    }

    /// `value` spelled with random whitespace, random `\u` escapes (surrogate pairs for
    /// astral characters), `\/`, and alternative spellings of integral numbers: text that
    /// must parse to exactly `value`.
    mutating func noisyText(_ value: JSONValue) -> String {
        var text = ""
        writeNoisy(value, into: &text)
        return whitespace() + text + whitespace()
    }

    private mutating func whitespace() -> String {
        guard random.chance(0.3) else { return "" }
        return String((0..<random.int(in: 1...3)).map { _ in random.pick([" ", "\t", "\n", "\r"] as [Character]) })
    }

    private mutating func writeNoisy(_ value: JSONValue, into text: inout String) {
        switch value {
        case .null, .bool:
            text += value.serializedString()
        case .number(let number):
            let plain = value.serializedString()
            if number.rounded(.towardZero) == number, abs(number) < 1e15, random.chance(0.5) {
                var spellings = [plain + ".0", plain + "e0", plain + "E+0", plain + ".000e00", plain + "e-0"]
                if number != 0 { spellings.append(plain + "0e-1") }  // "00e-1" would have a leading zero
                text += random.pick(spellings)
            } else if random.chance(0.3) {
                text += String(plain.map { $0 == "e" ? "E" : $0 })
            } else {
                text += plain
            }
        case .string(let string):
            writeNoisyString(string, into: &text)
        case .array(let elements):
            text += "[" + whitespace()
            for (index, element) in elements.enumerated() {
                if index > 0 { text += whitespace() + "," + whitespace() }
                writeNoisy(element, into: &text)
            }
            text += whitespace() + "]"
        case .object(let members):
            text += "{" + whitespace()
            for (index, member) in members.enumerated() {
                if index > 0 { text += whitespace() + "," + whitespace() }
                writeNoisyString(member.key, into: &text)
                text += whitespace() + ":" + whitespace()
                writeNoisy(member.value, into: &text)
            }
            text += whitespace() + "}"
        }
    }

    private mutating func writeNoisyString(_ string: String, into text: inout String) {
        text += "\""
        for scalar in string.unicodeScalars {
            if scalar == "/" && random.chance(0.5) {
                text += "\\/"
            } else if scalar.value < 0x20 || scalar == "\"" || scalar == "\\" || random.chance(0.2) {
                for unit in String(scalar).utf16 {
                    let hex = String(unit, radix: 16, uppercase: random.chance(0.5))
                    text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                }
            } else {
                text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}

@Suite("StrictJSON properties")
struct StrictJSONPropertyTests {
    @Test func serializeThenParseGivesBackTheSameValue() throws {
        for seed in PropertySeeds.seeds(default: 200) {
            var generator = RandomJSON(seed: seed)
            for _ in 0..<20 {
                let value = generator.value(depth: generator.random.int(in: 0...6))
                let bytes = value.serialized()
                let parsed: JSONValue
                do {
                    parsed = try StrictJSON.parse(bytes)
                } catch {
                    Issue.record("seed \(seed): \(error) for \(value.serializedString())")
                    continue
                }
                #expect(identical(parsed, value), "seed \(seed): \(value.serializedString()) parsed as \(parsed)")
                #expect(parsed.serialized() == bytes, "seed \(seed): re-serializing changed the bytes")
            }
        }
    }

    @Test func everyEquivalentSpellingParsesToTheSameValue() throws {
        for seed in PropertySeeds.seeds(default: 200) {
            var generator = RandomJSON(seed: seed)
            for _ in 0..<10 {
                let value = generator.value(depth: generator.random.int(in: 0...5))
                let text = generator.noisyText(value)
                let parsed: JSONValue
                do {
                    parsed = try StrictJSON.parse(text)
                } catch {
                    Issue.record("seed \(seed): \(error) for \(text.debugDescription)")
                    continue
                }
                #expect(identical(parsed, value), "seed \(seed): \(text.debugDescription) parsed as \(parsed), expected \(value)")
            }
        }
    }

    @Test func valuesDeeperThanTheLimitAreRejectedAndShallowerOnesAccepted() {
        for seed in PropertySeeds.seeds(default: 50) {
            var generator = RandomJSON(seed: seed)
            let value = generator.value(depth: 6)
            let depth = value.nestingDepth
            let bytes = value.serialized()
            let atDepth = parseRejection(bytes: bytes, limits: JSONLimits(maxDepth: depth))
            #expect(atDepth == nil, "seed \(seed): depth \(depth) rejected at its own limit: \(String(describing: atDepth))")
            if depth > 0 {
                let below = parseRejection(bytes: bytes, limits: JSONLimits(maxDepth: depth - 1))
                #expect(below?.reason == "too_deep", "seed \(seed): depth \(depth) accepted with limit \(depth - 1)")
            }
        }
    }
}
