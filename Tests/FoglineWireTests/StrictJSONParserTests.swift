import FoglineWire
import Testing

// MARK: - Helpers shared by the FoglineWire tests

/// The rejection `body` throws, or `nil` if it returns.
func rejection(_ body: () throws(PayloadRejection) -> Void) -> PayloadRejection? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}

/// The rejection parsing `text` throws, or `nil` if it parses.
func parseRejection(_ text: String, limits: JSONLimits = .default) -> PayloadRejection? {
    rejection { () throws(PayloadRejection) in _ = try StrictJSON.parse(text, limits: limits) }
}

/// The rejection parsing `bytes` throws, or `nil` if they parse.
func parseRejection(bytes: [UInt8], limits: JSONLimits = .default) -> PayloadRejection? {
    rejection { () throws(PayloadRejection) in _ = try StrictJSON.parse(bytes, limits: limits) }
}

/// `true` if both values have the same shape and their numbers the same bits (so `-0`
/// differs from `0`, unlike `==`).
func identical(_ a: JSONValue, _ b: JSONValue) -> Bool {
    switch (a, b) {
    case (.null, .null): return true
    case (.bool(let x), .bool(let y)): return x == y
    case (.number(let x), .number(let y)): return x.bitPattern == y.bitPattern
    case (.string(let x), .string(let y)): return Array(x.utf8) == Array(y.utf8)
    case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { identical($0, $1) }
    case (.object(let x), .object(let y)):
        return x.count == y.count && zip(x, y).allSatisfy { Array($0.key.utf8) == Array($1.key.utf8) && identical($0.value, $1.value) }
    default: return false
    }
}

// MARK: - Accepted input

@Suite("StrictJSON accepts RFC 8259")
struct StrictJSONAcceptanceTests {
    @Test func scalarsAtTopLevel() throws {
        #expect(try StrictJSON.parse("null") == .null)
        #expect(try StrictJSON.parse("true") == .bool(true))
        #expect(try StrictJSON.parse("false") == .bool(false))
        #expect(try StrictJSON.parse("\"x\"") == .string("x"))
        #expect(try StrictJSON.parse("0") == .number(0))
        #expect(try StrictJSON.parse("[]") == .array([]))
        #expect(try StrictJSON.parse("{}") == .object([]))
    }

    @Test func insignificantWhitespaceIsSpaceTabLineFeedAndCarriageReturn() throws {
        let value = try StrictJSON.parse(" \t\n\r{ \"a\" :\t[ 1 ,\n2 ] , \"b\"\r:{} }\r\n ")
        #expect(value == ["a": [1, 2], "b": [:]])
    }

    @Test func objectMembersKeepTheirOrder() throws {
        let value = try StrictJSON.parse(#"{"z":1,"a":2,"m":3}"#)
        #expect(value.objectMembers?.map(\.key) == ["z", "a", "m"])
    }

    @Test(arguments: [
        ("0", 0.0), ("-0", -0.0), ("1", 1), ("-1", -1), ("21.5", 21.5), ("-1.25", -1.25),
        ("1e3", 1000), ("1E3", 1000), ("1e+3", 1000), ("1e-2", 0.01), ("2.5E-3", 0.0025),
        ("0.5", 0.5), ("-0.0", -0.0), ("0e0", 0), ("10", 10),
        ("999999999999999", 999_999_999_999_999), ("-123456789012345", -123_456_789_012_345),
        ("9007199254740992", 9_007_199_254_740_992),
        ("9007199254740993", 9_007_199_254_740_992),  // rounds to nearest even double
        ("123456789012345678901234567890", 1.2345678901234568e29),
        ("1.7976931348623157e308", 1.7976931348623157e308),
        ("-1.7976931348623157e308", -1.7976931348623157e308),
        ("5e-324", .leastNonzeroMagnitude),
        ("1e-400", 0),  // underflow reads as zero, as in every IEEE 754 parser
        ("0.1", 0.1),
        ("100000000000000000000000", 1e23),
    ])
    func numbers(text: String, expected: Double) throws {
        let value = try StrictJSON.parse(text)
        let number = try #require(value.numberValue, "\(text) did not parse as a number")
        #expect(number.bitPattern == expected.bitPattern, "\(text) parsed as \(number), expected \(expected)")
    }

    @Test func negativeZeroKeepsItsSign() throws {
        let number = try #require(try StrictJSON.parse("-0").numberValue)
        #expect(number == 0 && number.sign == .minus)
    }

    @Test func longNumbersAreReadCorrectly() throws {
        let longInteger = "1" + String(repeating: "0", count: 300)
        #expect(try StrictJSON.parse(longInteger).numberValue == 1e300)
        let longFraction = "0." + String(repeating: "0", count: 2000) + "1"
        #expect(try StrictJSON.parse(longFraction).numberValue == 0)
        let manyDigits = "3." + String(repeating: "14159", count: 2000)
        #expect(try StrictJSON.parse(manyDigits).numberValue == 3.141591415914159)
    }

    @Test func allShortEscapes() throws {
        let value = try StrictJSON.parse(#""\"\\\/\b\f\n\r\t""#)
        #expect(value == .string("\"\\/\u{08}\u{0C}\n\r\t"))
    }

    @Test func unicodeEscapes() throws {
        #expect(try StrictJSON.parse(#""\u00e9""#) == .string("é"))
        #expect(try StrictJSON.parse(#""\u00E9""#) == .string("é"))
        #expect(try StrictJSON.parse(#""\u4e2D""#) == .string("中"))
        #expect(try StrictJSON.parse(#""\u0000""#) == .string("\u{0}"))
        #expect(try StrictJSON.parse(#""\u001f""#) == .string("\u{1F}"))
        #expect(try StrictJSON.parse(#""\uFFFF""#) == .string("\u{FFFF}"))
        #expect(try StrictJSON.parse(#""\uD83D\uDE00""#) == .string("😀"))
        #expect(try StrictJSON.parse(#""\uDBFF\uDFFF""#) == .string("\u{10FFFF}"))
        #expect(try StrictJSON.parse(#""\uD800\uDC00""#) == .string("\u{10000}"))
        #expect(try StrictJSON.parse(#""a\u0062c\n""#) == .string("abc\n"))
    }

    @Test func rawUTF8IsAccepted() throws {
        let text = "\"é 中 😀 \u{10FFFF} \u{FFFF} \u{D7FF} \u{E000} \u{7F}\""
        #expect(try StrictJSON.parse(text) == .string(String(text.dropFirst().dropLast())))
    }

    @Test func keysDifferingOnlyInCaseOrPlaceAreDistinct() throws {
        #expect(try StrictJSON.parse(#"{"a":1,"A":2}"#) == ["a": 1, "A": 2])
        #expect(try StrictJSON.parse(#"{"a":{"a":1}}"#) == ["a": ["a": 1]])
        #expect(try StrictJSON.parse(#"[{"a":1},{"a":2}]"#) == [["a": 1], ["a": 2]])
        #expect(try StrictJSON.parse(#"{"":1,"b":2}"#) == ["": 1, "b": 2])
    }

    @Test func everyKindOfByteCollectionParsesAlike() throws {
        let text = #"{"seq":1,"values":{"temp":21.5,"ok":true},"s":"é\n"}"#
        let bytes = Array(text.utf8)
        let expected = try StrictJSON.parse(text)
        #expect(try StrictJSON.parse(bytes) == expected)
        #expect(try StrictJSON.parse(bytes[...]) == expected)
        #expect(try StrictJSON.parse(text.utf8) == expected)
        #expect(try StrictJSON.parse(bytes.lazy.map { $0 }) == expected)  // not contiguous
        #expect(try StrictJSON.parse(AnyCollection(bytes)) == expected)
        let fromRawBuffer = bytes.withUnsafeBytes { buffer in
            Result { () throws(PayloadRejection) in try StrictJSON.parse(buffer) }
        }
        #expect(try fromRawBuffer.get() == expected)
        // A slice that does not start at 0.
        let padded: [UInt8] = Array("xx".utf8) + bytes
        #expect(try StrictJSON.parse(padded[2...]) == expected)
    }

    @Test func accessors() throws {
        let value = try StrictJSON.parse(#"{"a":[1,"x",true,null,{"b":2.5}],"n":-3}"#)
        #expect(value["a"]?[0]?.numberValue == 1)
        #expect(value["a"]?[1]?.stringValue == "x")
        #expect(value["a"]?[2]?.boolValue == true)
        #expect(value["a"]?[3]?.isNull == true)
        #expect(value["a"]?[4]?["b"]?.numberValue == 2.5)
        #expect(value["a"]?[5] == nil)
        #expect(value["a"]?[-1] == nil)
        #expect(value["missing"] == nil)
        #expect(value["n"]?.exactIntegerValue == -3)
        #expect(value["a"]?[4]?["b"]?.exactIntegerValue == nil)
        #expect(value["a"]?.arrayElements?.count == 5)
        #expect(value.nestingDepth == 3)
        #expect(JSONValue.number(9_007_199_254_740_994).exactIntegerValue == nil)
        #expect(JSONValue.string("x").kindDescription == "a string")
        #expect(JSONValue.object([]).kindDescription == "an object")
    }
}

// MARK: - Rejected input

@Suite("StrictJSON rejects everything outside RFC 8259")
struct StrictJSONRejectionTests {
    @Test(arguments: [
        "", " ", "\n\t",
        "01", "-01", "00", "-00", "0123", "+1", ".5", "-.5", "1.", "1.e5", "1e", "1e+", "1E-", "-", "--1", "1..2", "1e5.5",
        "0x10", "1_000", "1,5",
        "NaN", "-NaN", "Infinity", "-Infinity", "nan", "inf", "undefined",
        "tru", "nul", "fals", "True", "NULL", "truex", "nulll",
        "[1,]", "[,1]", "[,]", "{\"a\":1,}", "{,}", "[1 2]", "[1,,2]", "{\"a\" 1}", "{\"a\":}", "{\"a\"}", "{a:1}", "{'a':1}",
        "['a']", "{1:2}", "{null:1}", "{\"a\":1 \"b\":2}", "{\"a\":1;\"b\":2}",
        "[1]x", "{} {}", "[] []", "1 2", "\"a\" \"b\"", "{}}", "[]]", "]", "}", ":", ",",
        "[", "{", "{\"a\"", "{\"a\":", "{\"a\":1", "[1", "[1,", "\"abc", "\"\\\"", "\"\\",
        "\"\\x\"", "\"\\a\"", "\"\\'\"", "\"\\U00e9\"", "\"\\0\"", "\"\\ \"",
        "\"\\u12\"", "\"\\u12G4\"", "\"\\u\"", "\"\\u-123\"", "\"\\u 123\"",
        "\"\\uD800\"", "\"\\uDBFF\"", "\"\\uDC00\"", "\"\\uDFFF\"", "\"\\uD800\\u0041\"", "\"\\uD800x\"",
        "\"\\uD800\\uD800\"", "\"\\uDC00\\uD800\"", "\"\\uD800\\\"", "\"\\uD800\\u12\"",
        "\"a\u{01}b\"", "\"tab\there\"", "\"line\nbreak\"", "\"\u{0}\"", "\"\u{1F}\"",
        "[1]\u{0C}", "\u{0C}[1]", "\u{A0}1", "[1\u{A0}]", "\u{FEFF}{}", "\u{2028}1",
        "// comment\n1", "/* c */ 1", "1 // c", "# c\n1",
        "'single'", "`x`",
    ])
    func invalidJSON(text: String) {
        let result = parseRejection(text)
        #expect(result?.reason == "invalid_json", "\(text.debugDescription) gave \(String(describing: result))")
    }

    @Test(arguments: [
        ("01", 0), ("[1,]", 3), ("[1]x", 3), ("{\"a\" 1}", 5), ("\"a\u{01}b\"", 2), ("\"abc", 4),
        ("  ", 2), ("\"\\x\"", 1), ("[1, 2, -]", 8), ("{\"a\":tru}", 5),
    ])
    func invalidJSONReportsTheOffset(text: String, offset: Int) {
        guard case .invalidJSON(let found, _)? = parseRejection(text) else {
            Issue.record("\(text.debugDescription) was not rejected as invalid JSON")
            return
        }
        #expect(found == offset, "\(text.debugDescription)")
    }

    @Test func byteOrderMarkIsRejected() {
        #expect(parseRejection(bytes: [0xEF, 0xBB, 0xBF] + Array("{}".utf8))?.reason == "invalid_json")
    }

    @Test(arguments: [
        ([0x22, 0xC0, 0xAF, 0x22], 1),  // overlong "/"
        ([0x22, 0xC1, 0xBF, 0x22], 1),  // overlong
        ([0x22, 0xE0, 0x80, 0xAF, 0x22], 1),  // overlong, 3 bytes
        ([0x22, 0xE0, 0x9F, 0xBF, 0x22], 1),  // overlong U+07FF
        ([0x22, 0xF0, 0x80, 0x80, 0xAF, 0x22], 1),  // overlong, 4 bytes
        ([0x22, 0xF0, 0x8F, 0xBF, 0xBF, 0x22], 1),  // overlong U+FFFF
        ([0x22, 0xED, 0xA0, 0x80, 0x22], 1),  // encoded surrogate U+D800
        ([0x22, 0xED, 0xBF, 0xBF, 0x22], 1),  // encoded surrogate U+DFFF
        ([0x22, 0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80, 0x22], 1),  // CESU-8 surrogate pair
        ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 1),  // U+110000
        ([0x22, 0xF5, 0x80, 0x80, 0x80, 0x22], 1),
        ([0x22, 0xF8, 0x88, 0x80, 0x80, 0x80, 0x22], 1),  // 5-byte form
        ([0x22, 0xFF, 0x22], 1), ([0x22, 0xFE, 0x22], 1),
        ([0x22, 0x80, 0x22], 1),  // stray continuation
        ([0x22, 0xC3, 0x28, 0x22], 1),  // bad continuation
        ([0x22, 0xE2, 0x82, 0x22], 1),  // truncated 3-byte
        ([0x22, 0xF0, 0x9F, 0x98, 0x22], 1),  // truncated 4-byte
        ([0x22, 0xC3], 1),  // truncated at the end
        ([0xFF], 0), ([0x80], 0),
        ([0x5B, 0x31, 0x2C, 0xC0, 0x5D], 3),  // outside a string
    ] as [([UInt8], Int)])
    func invalidUTF8(bytes: [UInt8], offset: Int) {
        #expect(parseRejection(bytes: bytes) == .invalidUTF8(offset: offset), "\(bytes)")
    }

    @Test func invalidUTF8AfterALongASCIIRunReportsTheExactOffset() {
        for prefixLength in 0..<40 {
            let bytes = [0x22] + [UInt8](repeating: 0x61, count: prefixLength) + [0xED, 0xA0, 0x80, 0x22]
            #expect(parseRejection(bytes: bytes) == .invalidUTF8(offset: 1 + prefixLength))
        }
    }

    @Test func validUTF8BoundariesAreAccepted() throws {
        let boundaries: [[UInt8]] = [
            [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80],
            [0xEF, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],
        ]
        for sequence in boundaries {
            let value = try StrictJSON.parse([0x22] + sequence + [0x22])
            #expect(value.stringValue.map { Array($0.utf8) } == sequence)
        }
    }

    @Test func duplicateKeys() {
        #expect(parseRejection(#"{"a":1,"a":2}"#) == .duplicateKey(key: "a", offset: 7))
        #expect(parseRejection(#"{"a":1,"\u0061":2}"#) == .duplicateKey(key: "a", offset: 7))
        #expect(parseRejection(#"{"\u00e9":1,"é":2}"#) == .duplicateKey(key: "é", offset: 12))
        #expect(parseRejection(#"{"a\nb":1,"a\u000ab":2}"#)?.reason == "duplicate_key")
        #expect(parseRejection(#"{"😀":1,"\ud83d\ude00":2}"#)?.reason == "duplicate_key")
        #expect(parseRejection(#"{"x":{"b":1,"c":2,"b":3}}"#)?.reason == "duplicate_key")
        #expect(parseRejection(#"[{"a":1},{"b":1,"b":1}]"#)?.reason == "duplicate_key")
        #expect(parseRejection(#"{"a":null,"a":null}"#)?.reason == "duplicate_key")
        #expect(parseRejection(#"{"":1,"":2}"#)?.reason == "duplicate_key")
    }

    @Test func canonicallyEquivalentKeysAreDuplicates() {
        // Precomposed é and e + combining acute are the same Swift string, hence the same
        // dictionary key downstream: the parser treats them as a repeat.
        #expect(parseRejection("{\"\u{E9}\":1,\"e\u{301}\":2}")?.reason == "duplicate_key")
    }

    @Test func duplicateKeysInLargeObjectsAreFound() throws {
        for count in [15, 16, 17, 40, 1000] {
            let members = (0..<count).map { "\"k\($0)\":\($0)" }
            #expect(throws: Never.self) { try StrictJSON.parse("{" + members.joined(separator: ",") + "}") }
            for repeated in [0, count / 2, count - 1] {
                let text = "{" + members.joined(separator: ",") + ",\"k\(repeated)\":0}"
                #expect(parseRejection(text)?.reason == "duplicate_key", "\(count) members, repeating k\(repeated)")
            }
        }
    }

    @Test func nestingUpToTheLimitIsAccepted() throws {
        let arrays = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        #expect(try StrictJSON.parse(arrays).nestingDepth == 32)
        let objects = String(repeating: "{\"a\":", count: 31) + "{}" + String(repeating: "}", count: 31)
        #expect(try StrictJSON.parse(objects).nestingDepth == 32)
    }

    @Test func nestingBeyondTheLimitIsTooDeep() {
        let arrays = String(repeating: "[", count: 33) + String(repeating: "]", count: 33)
        #expect(parseRejection(arrays) == .tooDeep(limit: 32, offset: 32))
        let objects = String(repeating: "{\"a\":", count: 32) + "{}" + String(repeating: "}", count: 32)
        #expect(parseRejection(objects) == .tooDeep(limit: 32, offset: 160))
        #expect(parseRejection("[1]", limits: JSONLimits(maxDepth: 0)) == .tooDeep(limit: 0, offset: 0))
        #expect(parseRejection("1", limits: JSONLimits(maxDepth: 0)) == nil)
        #expect(parseRejection("[[1]]", limits: JSONLimits(maxDepth: 1)) == .tooDeep(limit: 1, offset: 1))
    }

    @Test func depthBombsAreRejectedWithoutCrashing() {
        let depth = 100_000
        let bombs: [String] = [
            String(repeating: "[", count: depth),
            String(repeating: "[", count: depth) + String(repeating: "]", count: depth),
            String(repeating: "{\"a\":", count: depth),
            String(repeating: "[{\"a\":", count: depth / 2),
        ]
        for bomb in bombs {
            let result = parseRejection(bomb, limits: JSONLimits(maxBytes: .max))
            #expect(result == .tooDeep(limit: 32, offset: bomb.hasPrefix("{") ? 160 : (bomb.hasPrefix("[{") ? 96 : 32)))
        }
        // At the default size limit the bomb is refused before it is even read.
        #expect(parseRejection(String(repeating: "[", count: depth))?.reason == "oversized")
    }

    @Test func depthLimitIsCappedAtTheCeiling() throws {
        let limits = JSONLimits(maxBytes: .max, maxDepth: 1_000_000)
        #expect(limits.maxDepth == JSONLimits.depthCeiling)
        var adjusted = JSONLimits()
        adjusted.maxDepth = -5
        #expect(adjusted.maxDepth == 0)
        let ceiling = JSONLimits.depthCeiling
        let deepest = String(repeating: "[", count: ceiling) + String(repeating: "]", count: ceiling)
        let value = try StrictJSON.parse(deepest, limits: limits)
        // A value this deep can be measured, compared, serialized and freed safely.
        #expect(value.nestingDepth == ceiling)
        #expect(value == (try StrictJSON.parse(deepest, limits: limits)))
        #expect(value.serializedString() == deepest)
        let tooDeep = String(repeating: "[", count: ceiling + 1) + String(repeating: "]", count: ceiling + 1)
        #expect(parseRejection(tooDeep, limits: limits) == .tooDeep(limit: ceiling, offset: ceiling))
    }

    @Test func oversizedPayloads() throws {
        let limit = JSONLimits.defaultMaxBytes
        let exact = "[" + String(repeating: " ", count: limit - 2) + "]"
        #expect(try StrictJSON.parse(exact) == .array([]))
        let over = "[" + String(repeating: " ", count: limit - 1) + "]"
        #expect(parseRejection(over) == .oversized(byteCount: limit + 1, limit: limit))
        #expect(parseRejection("[1,2,3]", limits: JSONLimits(maxBytes: 6)) == .oversized(byteCount: 7, limit: 6))
        // The size is checked before anything else, even UTF-8.
        #expect(parseRejection(bytes: [0xFF, 0xFF], limits: JSONLimits(maxBytes: 1)) == .oversized(byteCount: 2, limit: 1))
    }

    @Test func numbersBeyondTheDoubleRangeAreOutOfRange() {
        for text in ["1e400", "-1e400", "1.8e308", "1.7976931348623159e308", "1" + String(repeating: "0", count: 400)] {
            #expect(parseRejection(text)?.reason == "out_of_range", "\(text.prefix(40))")
        }
        guard case .outOfRange(let payload, let field, _, let found)? = parseRejection(#"{"a":{"b":[0,1e400]}}"#) else {
            Issue.record("1e400 in a nested array was not out of range")
            return
        }
        #expect(payload == "JSON")
        #expect(field == "a.b[1]")
        #expect(found == "1e400")
        guard case .outOfRange(_, let topField, _, _)? = parseRejection("-1e999") else {
            Issue.record("-1e999 was not out of range")
            return
        }
        #expect(topField == "")
    }
}
