import FoglineTesting
import FoglineWire
import Testing

@Suite("JSONValue serialization")
struct StrictJSONSerializerTests {
    @Test func compositeValueSerializesToExactBytes() {
        let value: JSONValue = [
            "b": 1, "a": [true, false, .null], "s": "x\"y\\z\n\u{1}é😀/", "o": [:], "e": [],
        ]
        #expect(value.serializedString() == #"{"b":1,"a":[true,false,null],"s":"x\"y\\z\n\u0001é😀/","o":{},"e":[]}"#)
        #expect(value.serialized() == Array(value.serializedString().utf8))
        #expect(value.description == value.serializedString())
    }

    @Test(arguments: [
        (0.0, "0"), (-0.0, "-0"), (42, "42"), (-42, "-42"), (21.5, "21.5"), (-1.25, "-1.25"),
        (0.1, "0.1"), (1e20, "1e+20"), (1e-7, "1e-07"), (1.5e300, "1.5e+300"), (.leastNonzeroMagnitude, "5e-324"),
        (9_007_199_254_740_991, "9007199254740991"), (-9_007_199_254_740_991, "-9007199254740991"),
        (9_007_199_254_740_992, "9007199254740992.0"), (1e16, "1e+16"),
        (1.7976931348623157e308, "1.7976931348623157e+308"), (123_456_789.125, "123456789.125"),
        (1_763_800_000_123, "1763800000123"),
        (Double.nan, "null"), (Double.infinity, "null"), (-Double.infinity, "null"),
    ])
    func numbers(value: Double, expected: String) {
        #expect(JSONValue.number(value).serializedString() == expected)
    }

    @Test func everyFiniteNumberTextReadsBackToTheSameDouble() throws {
        var random = SeededRandom(seed: 0x5EED)
        var samples: [Double] = [0, -0.0, 1, -1, .leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude,
                                 -.greatestFiniteMagnitude, .ulpOfOne, 0.1, 1.0 / 3.0]
        for _ in 0..<2000 {
            let double = Double(bitPattern: random.next())
            if double.isFinite { samples.append(double) }
        }
        for sample in samples {
            let text = JSONValue.number(sample).serializedString()
            let parsed = try #require(try StrictJSON.parse(text).numberValue, "seed \(random.seed): \(text)")
            #expect(parsed.bitPattern == sample.bitPattern, "seed \(random.seed): \(sample) → \(text) → \(parsed)")
        }
    }

    @Test func controlCharactersAreEscapedAndNothingElseIs() throws {
        var expected = "\""
        var text = ""
        for byte in UInt8(0)..<0x20 {
            text.unicodeScalars.append(Unicode.Scalar(byte))
            switch byte {
            case 0x08: expected += "\\b"
            case 0x09: expected += "\\t"
            case 0x0A: expected += "\\n"
            case 0x0C: expected += "\\f"
            case 0x0D: expected += "\\r"
            default: expected += "\\u00" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16)
            }
        }
        text += "\u{7F}/é\u{2028}\u{10FFFF}"
        expected += "\u{7F}/é\u{2028}\u{10FFFF}\""
        #expect(JSONValue.string(text).serializedString() == expected)
        #expect(try StrictJSON.parse(expected) == .string(text))
    }

    @Test func keysAreEscapedAndKeepTheirOrder() {
        let value = JSONValue.object([(key: "z\"", value: 1), (key: "a\n", value: 2), (key: "", value: 3)])
        #expect(value.serializedString() == #"{"z\"":1,"a\n":2,"":3}"#)
    }

    @Test func serializingIsDeterministicAndStable() throws {
        let text = #"{"seq":1,"values":{"temp":21.5,"rh":40},"nested":[{"b":[1,2,{"c":null}]}],"s":"\u00e9\/"}"#
        let value = try StrictJSON.parse(text)
        let once = value.serialized()
        #expect(once == value.serialized())
        #expect(try StrictJSON.parse(once).serialized() == once)
        #expect(String(decoding: once, as: UTF8.self) == #"{"seq":1,"values":{"temp":21.5,"rh":40},"nested":[{"b":[1,2,{"c":null}]}],"s":"é/"}"#)
    }

    @Test func serializeIntoAppends() {
        var output = Array("prefix:".utf8)
        JSONValue.array([1, "x"]).serialize(into: &output)
        #expect(String(decoding: output, as: UTF8.self) == #"prefix:[1,"x"]"#)
    }

    @Test func equalityAndHashing() {
        let a: JSONValue = ["x": 1, "y": [true]]
        let b: JSONValue = ["x": 1, "y": [true]]
        let reordered: JSONValue = ["y": [true], "x": 1]
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(a != reordered)  // member order is part of the value
        #expect(JSONValue.number(0) == JSONValue.number(-0.0))
        #expect(JSONValue.number(0).hashValue == JSONValue.number(-0.0).hashValue)
        #expect(JSONValue.number(1) != JSONValue.string("1"))
        #expect(JSONValue.null != JSONValue.bool(false))
        #expect(Set<JSONValue>([a, b, reordered]).count == 2)
    }
}
