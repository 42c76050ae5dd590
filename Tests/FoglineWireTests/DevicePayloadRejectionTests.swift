import FoglineWire
import Testing

@Suite("PayloadRejection reasons and messages")
struct DevicePayloadRejectionTests {
    static let expectedReasons = [
        "oversized", "invalid_utf8", "invalid_json", "duplicate_key", "too_deep", "not_object",
        "wrong_type", "missing_field", "out_of_range", "invalid_topic", "unknown_topic",
    ]

    @Test func allReasonsAreTheElevenDistinctLabels() {
        #expect(PayloadRejection.allReasons == Self.expectedReasons)
        #expect(Set(PayloadRejection.allReasons).count == PayloadRejection.allReasons.count)
        for reason in PayloadRejection.allReasons {
            #expect(reason.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" }, "\(reason) is not a Prometheus-friendly label")
        }
    }

    /// One input per reason that triggers exactly that reason.
    static let triggers: [(reason: String, trigger: @Sendable () -> PayloadRejection?)] = [
        ("oversized", { decodeRejection(TelemetryPayload.self, #"{"seq":1,"values":{"t":1}}"# + String(repeating: " ", count: 65_536)) }),
        ("invalid_utf8", { rejection { () throws(PayloadRejection) in _ = try TelemetryPayload.decode([0x7B, 0x22, 0xC0, 0x80, 0x22, 0x3A, 0x31, 0x7D]) } }),
        ("invalid_json", { decodeRejection(TelemetryPayload.self, #"{"seq":01,"values":{}}"#) }),
        ("duplicate_key", { decodeRejection(TelemetryPayload.self, #"{"seq":1,"values":{},"\u0073eq":2}"#) }),
        ("too_deep", { decodeRejection(TelemetryPayload.self, #"{"seq":1,"values":{},"x":"# + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + "}") }),
        ("not_object", { decodeRejection(TelemetryPayload.self, #"[{"seq":1,"values":{}}]"#) }),
        ("wrong_type", { decodeRejection(TelemetryPayload.self, #"{"seq":"1","values":{}}"#) }),
        ("missing_field", { decodeRejection(TelemetryPayload.self, #"{"values":{}}"#) }),
        ("out_of_range", { decodeRejection(TelemetryPayload.self, #"{"seq":-1,"values":{}}"#) }),
        ("invalid_topic", { rejection { () throws(PayloadRejection) in _ = try FoglineTopic.parse("fogline/v1/site/dev/+/telemetry", expectedSite: nil) } }),
        ("unknown_topic", { rejection { () throws(PayloadRejection) in _ = try FoglineTopic.parse("fogline/v1/site/dev/d1/unknown", expectedSite: nil) } }),
    ]

    @Test func everyReasonHasAnInputThatTriggersExactlyIt() {
        #expect(Self.triggers.map(\.reason) == PayloadRejection.allReasons)
        for (reason, trigger) in Self.triggers {
            let result = trigger()
            #expect(result?.reason == reason, "expected \(reason), got \(String(describing: result))")
        }
    }

    @Test func descriptionsAreSentencesThatSayWhatToDo() {
        let cases: [(PayloadRejection, String)] = [
            (.oversized(byteCount: 70_000, limit: 65_536),
             "payload is 70000 bytes, more than the limit of 65536 bytes; send smaller messages (split the values) or raise the payload limit in the site config"),
            (.invalidUTF8(offset: 3), "payload is not valid UTF-8 at byte 3; devices must send JSON encoded as UTF-8"),
            (.duplicateKey(key: "a", offset: 7), #"payload repeats the object key "a" at byte 7; send each key once per object"#),
            (.tooDeep(limit: 32, offset: 32), "payload nests arrays and objects more than 32 levels deep at byte 32; send a flatter payload"),
            (.notObject(payload: "birth", found: "an array"), "birth payload must be a JSON object, got an array"),
            (.wrongType(payload: "telemetry", field: "values.temp", expected: "a number (or a boolean, read as 1 or 0)", found: "a string"),
             "telemetry field `values.temp` must be a number (or a boolean, read as 1 or 0), got a string"),
            (.missingField(payload: "telemetry", field: "seq"), "telemetry payload is missing the required field `seq`; add it"),
            (.outOfRange(payload: "telemetry", field: "seq", requirement: "an integer from 0 to 9007199254740992 (2^53)", found: "-1"),
             "telemetry field `seq` must be an integer from 0 to 9007199254740992 (2^53), got -1"),
        ]
        for (rejection, expected) in cases {
            #expect(rejection.description == expected)
        }
        #expect(parseRejection("01")?.description == "payload is not valid JSON at byte 0: numbers must not have leading zeros; fix the device's JSON encoder")
        #expect(parseRejection("[1,]")?.description == "payload is not valid JSON at byte 3: found `]` where a value was expected; fix the device's JSON encoder")
    }

    @Test func descriptionsQuoteEscapeAndShortenForeignText() {
        let hostileKey = "line\nbreak\u{1B}[31m" + String(repeating: "x", count: 500)
        let description = PayloadRejection.duplicateKey(key: hostileKey, offset: 1).description
        #expect(!description.contains("\n"))
        #expect(!description.contains("\u{1B}"))
        #expect(description.contains(#""line\nbreak\u001b[31m"#))
        #expect(description.contains("…"))
        #expect(description.count < 200)
        let topic = PayloadRejection.unknownTopic(topic: "a\r\nb").description
        #expect(!topic.contains("\r") && !topic.contains("\n"))
        let field = PayloadRejection.wrongType(payload: "reported", field: "fields.a\nb", expected: "x", found: "y").description
        #expect(field == "reported field `fields.a\\nb` must be x, got y")
    }

    @Test func everyDescriptionFromRealInputIsOneNonEmptyLine() {
        for (_, trigger) in Self.triggers {
            guard let description = trigger()?.description else { continue }
            #expect(!description.isEmpty)
            #expect(!description.contains("\n"))
            #expect(description.first?.isLowercase == true, "\(description)")
        }
    }
}
