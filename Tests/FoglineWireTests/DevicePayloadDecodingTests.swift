import FoglineCore
import FoglineWire
import Testing

/// The rejection decoding `text` as `P` throws, or `nil` if it decodes.
func decodeRejection<P: DevicePayload>(_ type: P.Type, _ text: String) -> PayloadRejection? {
    rejection { () throws(PayloadRejection) in _ = try P.decode(text) }
}

@Suite("Device payloads: birth")
struct BirthPayloadDecodingTests {
    @Test func fullBirth() throws {
        let birth = try BirthPayload.decode(#"{"profile":"thermostat","fw":"1.4.2","metrics":{"temp":"C","rh":"%","on":""},"replay":true}"#)
        #expect(birth.profile == "thermostat")
        #expect(birth.firmware == "1.4.2")
        #expect(birth.metrics.map(\.name) == ["temp", "rh", "on"])
        #expect(birth.metrics.map(\.unit) == ["C", "%", ""])
        #expect(birth.supportsReplay)
    }

    @Test func minimalBirthHasDefaults() throws {
        let birth = try BirthPayload.decode(#"{"profile":"p"}"#)
        #expect(birth.firmware == nil)
        #expect(birth.metrics.isEmpty)
        #expect(!birth.supportsReplay)
        #expect(birth.nextSeq == 0, "a birth without seq starts a new stream")
        let nulls = try BirthPayload.decode(#"{"profile":"p","fw":null,"metrics":null,"replay":null,"seq":null}"#)
        #expect(nulls == birth)
    }

    @Test func aContinuingBirthCarriesTheNextSeq() throws {
        let birth = try BirthPayload.decode(#"{"profile":"p","replay":true,"seq":123}"#)
        #expect(birth.nextSeq == 123)
        #expect(try BirthPayload.decode(#"{"profile":"p","seq":9007199254740992}"#).nextSeq == 9_007_199_254_740_992)
    }

    @Test func unknownFieldsAreIgnored() throws {
        let birth = try BirthPayload.decode(#"{"x":[1,{"y":null}],"profile":"p","fw2":3,"replay":false}"#)
        #expect(birth == (try BirthPayload(profile: "p")))
    }

    @Test(arguments: [
        (#"{"fw":"1"}"#, "missing_field", "profile"),
        (#"{"profile":null}"#, "wrong_type", "profile"),
        (#"{"profile":7}"#, "wrong_type", "profile"),
        (#"{"profile":""}"#, "out_of_range", "profile"),
        (#"{"profile":"p","fw":1.4}"#, "wrong_type", "fw"),
        (#"{"profile":"p","metrics":["temp"]}"#, "wrong_type", "metrics"),
        (#"{"profile":"p","metrics":"temp"}"#, "wrong_type", "metrics"),
        (#"{"profile":"p","metrics":{"temp":1}}"#, "wrong_type", "metrics.temp"),
        (#"{"profile":"p","metrics":{"temp":null}}"#, "wrong_type", "metrics.temp"),
        (#"{"profile":"p","metrics":{"":"C"}}"#, "out_of_range", "metrics."),
        (#"{"profile":"p","replay":"yes"}"#, "wrong_type", "replay"),
        (#"{"profile":"p","replay":1}"#, "wrong_type", "replay"),
        (#"{"profile":"p","seq":"12"}"#, "wrong_type", "seq"),
        (#"{"profile":"p","seq":-1}"#, "out_of_range", "seq"),
        (#"{"profile":"p","seq":1.5}"#, "out_of_range", "seq"),
        (#"{"profile":"p","seq":9007199254740994}"#, "out_of_range", "seq"),
    ])
    func badBirths(text: String, reason: String, field: String) {
        let result = decodeRejection(BirthPayload.self, text)
        #expect(result?.reason == reason, "\(text): \(String(describing: result))")
        #expect(result.flatMap(fieldOf) == field, "\(text): \(String(describing: result))")
    }

    @Test func namesAreBoundedTo128Bytes() throws {
        #expect(try BirthPayload.decode(#"{"profile":""# + String(repeating: "p", count: 128) + #""}"#).profile.utf8.count == 128)
        #expect(try BirthPayload.decode(#"{"profile":""# + String(repeating: "é", count: 64) + #""}"#).profile.utf8.count == 128)
        #expect(decodeRejection(BirthPayload.self, #"{"profile":""# + String(repeating: "p", count: 129) + #""}"#)?.reason == "out_of_range")
        // 43 × 3 bytes = 129 bytes: the bound counts bytes, not characters.
        #expect(decodeRejection(BirthPayload.self, #"{"profile":""# + String(repeating: "中", count: 43) + #""}"#)?.reason == "out_of_range")
        let longMetric = String(repeating: "m", count: 129)
        #expect(decodeRejection(BirthPayload.self, #"{"profile":"p","metrics":{""# + longMetric + #"":"C"}}"#)?.reason == "out_of_range")
    }
}

@Suite("Device payloads: death")
struct DeathPayloadDecodingTests {
    @Test func anyObjectIsADeath() throws {
        #expect(try DeathPayload.decode(#"{"reason":"lost"}"#).reason == "lost")
        #expect(try DeathPayload.decode("{}").reason == nil)
        #expect(try DeathPayload.decode(#"{"reason":5}"#).reason == nil)
        #expect(try DeathPayload.decode(#"{"reason":null,"x":[1]}"#).reason == nil)
        #expect(try DeathPayload.decode(#"{"reason":{"code":1}}"#).reason == nil)
    }

    @Test func aDeathMustStillBeStrictJSONObject() {
        #expect(decodeRejection(DeathPayload.self, "[]")?.reason == "not_object")
        #expect(decodeRejection(DeathPayload.self, "")?.reason == "invalid_json")
        #expect(decodeRejection(DeathPayload.self, #"{"reason":"a","reason":"b"}"#)?.reason == "duplicate_key")
    }
}

@Suite("Device payloads: telemetry")
struct TelemetryPayloadDecodingTests {
    @Test func fullTelemetry() throws {
        let telemetry = try TelemetryPayload.decode(#"{"seq":123,"ts":1763800000123,"values":{"temp":21.5,"door":true,"fan":false,"n":-3e2}}"#)
        #expect(telemetry.seq == 123)
        #expect(telemetry.deviceTime == 1_763_800_000_123)
        #expect(telemetry.values.map(\.name) == ["temp", "door", "fan", "n"])
        #expect(telemetry.values.map(\.value) == [21.5, 1, 0, -300])
    }

    @Test func optionalTimestampAndEmptyValues() throws {
        let telemetry = try TelemetryPayload.decode(#"{"values":{},"seq":0}"#)
        #expect(telemetry.seq == 0)
        #expect(telemetry.deviceTime == nil)
        #expect(telemetry.values.isEmpty)
        #expect(try TelemetryPayload.decode(#"{"seq":1,"ts":null,"values":{}}"#).deviceTime == nil)
        #expect(try TelemetryPayload.decode(#"{"seq":1,"ts":-5,"values":{}}"#).deviceTime == -5)
        #expect(try TelemetryPayload.decode(#"{"seq":1,"ts":1.0e3,"values":{}}"#).deviceTime == 1000)
    }

    @Test func seqBounds() throws {
        #expect(try TelemetryPayload.decode(#"{"seq":9007199254740992,"values":{}}"#).seq == 1 << 53)
        #expect(try TelemetryPayload.decode(#"{"seq":4.0,"values":{}}"#).seq == 4)
        #expect(try TelemetryPayload.decode(#"{"seq":-0,"values":{}}"#).seq == 0)
        for bad in ["9007199254740994", "1e20", "-1", "1.5", "0.1", "-9007199254740992"] {
            #expect(decodeRejection(TelemetryPayload.self, #"{"seq":"# + bad + #","values":{}}"#)?.reason == "out_of_range", "seq \(bad)")
        }
        #expect(decodeRejection(TelemetryPayload.self, #"{"seq":1e400,"values":{}}"#)
            == .outOfRange(
                payload: "telemetry", field: "seq",
                requirement: "a number within the range of a 64-bit double (magnitude at most 1.7976931348623157e308)",
                found: "1e400"
            ))
    }

    @Test func seqAsAStringReadsAsASentence() {
        let result = decodeRejection(TelemetryPayload.self, #"{"seq":"123","values":{"temp":21.5}}"#)
        #expect(result == .wrongType(payload: "telemetry", field: "seq", expected: "a non-negative integer", found: "a string"))
        #expect(result?.description == "telemetry field `seq` must be a non-negative integer, got a string")
    }

    @Test(arguments: [
        (#"{"values":{}}"#, "missing_field", "seq"),
        (#"{"seq":null,"values":{}}"#, "wrong_type", "seq"),
        (#"{"seq":true,"values":{}}"#, "wrong_type", "seq"),
        (#"{"seq":[1],"values":{}}"#, "wrong_type", "seq"),
        (#"{"seq":1}"#, "missing_field", "values"),
        (#"{"seq":1,"values":null}"#, "wrong_type", "values"),
        (#"{"seq":1,"values":[21.5]}"#, "wrong_type", "values"),
        (#"{"seq":1,"values":{"temp":"hot"}}"#, "wrong_type", "values.temp"),
        (#"{"seq":1,"values":{"temp":null}}"#, "wrong_type", "values.temp"),
        (#"{"seq":1,"values":{"temp":{"v":1}}}"#, "wrong_type", "values.temp"),
        (#"{"seq":1,"values":{"ok":1,"temp":[1]}}"#, "wrong_type", "values.temp"),
        (#"{"seq":1,"values":{"":1}}"#, "out_of_range", "values."),
        (#"{"seq":1,"values":{"temp":-1e400}}"#, "out_of_range", "values.temp"),
        (#"{"seq":1,"ts":"now","values":{}}"#, "wrong_type", "ts"),
        (#"{"seq":1,"ts":1.5,"values":{}}"#, "out_of_range", "ts"),
        (#"{"seq":1,"ts":1e17,"values":{}}"#, "out_of_range", "ts"),
    ])
    func badTelemetry(text: String, reason: String, field: String) {
        let result = decodeRejection(TelemetryPayload.self, text)
        #expect(result?.reason == reason, "\(text): \(String(describing: result))")
        #expect(result.flatMap(fieldOf) == field, "\(text): \(String(describing: result))")
    }

    @Test func notAnObject() {
        for text in ["[]", "1", "\"telemetry\"", "null", "true"] {
            #expect(decodeRejection(TelemetryPayload.self, text)?.reason == "not_object", "\(text)")
        }
        #expect(decodeRejection(TelemetryPayload.self, "[1]")?.description == "telemetry payload must be a JSON object, got an array")
    }
}

@Suite("Device payloads: reported")
struct ReportedPayloadDecodingTests {
    @Test func scalarsOfEveryKind() throws {
        let reported = try ReportedPayload.decode(#"{"fields":{"setpoint":21.0,"mode":"heat","eco":true,"note":null},"extra":1}"#)
        #expect(reported.fields.map(\.name) == ["setpoint", "mode", "eco", "note"])
        #expect(reported.fields.map(\.value) == [.number(21), .string("heat"), .bool(true), .null])
    }

    @Test func fieldValuesConvertToAndFromJSON() {
        let scalars: [FieldValue] = [.null, .bool(true), .number(-2.5), .string("heat")]
        for scalar in scalars {
            #expect(JSONValue(scalar).fieldValue == scalar)
        }
        #expect(JSONValue.array([]).fieldValue == nil)
        #expect(JSONValue.object([]).fieldValue == nil)
    }

    @Test(arguments: [
        (#"{}"#, "missing_field", "fields"),
        (#"{"fields":null}"#, "wrong_type", "fields"),
        (#"{"fields":"x"}"#, "wrong_type", "fields"),
        (#"{"fields":{"a":{"b":1}}}"#, "wrong_type", "fields.a"),
        (#"{"fields":{"a":1,"list":[1,2]}}"#, "wrong_type", "fields.list"),
        (#"{"fields":{"":1}}"#, "out_of_range", "fields."),
    ])
    func badReported(text: String, reason: String, field: String) {
        let result = decodeRejection(ReportedPayload.self, text)
        #expect(result?.reason == reason, "\(text): \(String(describing: result))")
        #expect(result.flatMap(fieldOf) == field, "\(text): \(String(describing: result))")
    }
}

@Suite("Device payloads: command acknowledgement")
struct CommandAckPayloadDecodingTests {
    @Test func everyStatus() throws {
        for status in CommandAckStatus.allCases {
            let ack = try CommandAckPayload.decode(#"{"id":"c-1","status":""# + status.rawValue + #""}"#)
            #expect(ack.status == status)
            #expect(ack.id == "c-1")
            #expect(ack.detail == nil)
        }
        #expect(try CommandAckPayload.decode(#"{"id":"c-1","status":"failed","detail":"valve stuck"}"#).detail == "valve stuck")
    }

    @Test(arguments: [
        (#"{"status":"ok"}"#, "missing_field", "id"),
        (#"{"id":"c-1"}"#, "missing_field", "status"),
        (#"{"id":"","status":"ok"}"#, "out_of_range", "id"),
        (#"{"id":7,"status":"ok"}"#, "wrong_type", "id"),
        (#"{"id":"c-1","status":"OK"}"#, "out_of_range", "status"),
        (#"{"id":"c-1","status":"done"}"#, "out_of_range", "status"),
        (#"{"id":"c-1","status":""}"#, "out_of_range", "status"),
        (#"{"id":"c-1","status":1}"#, "wrong_type", "status"),
        (#"{"id":"c-1","status":null}"#, "wrong_type", "status"),
        (#"{"id":"c-1","status":"ok","detail":5}"#, "wrong_type", "detail"),
    ])
    func badAcks(text: String, reason: String, field: String) {
        let result = decodeRejection(CommandAckPayload.self, text)
        #expect(result?.reason == reason, "\(text): \(String(describing: result))")
        #expect(result.flatMap(fieldOf) == field, "\(text): \(String(describing: result))")
    }

    @Test func unknownStatusSaysWhatIsAllowed() {
        let result = decodeRejection(CommandAckPayload.self, #"{"id":"c-1","status":"done"}"#)
        #expect(result?.description == #"cmd/ack field `status` must be one of "ok", "rejected" or "failed", got "done""#)
    }
}

/// The field a typed rejection names, if any.
func fieldOf(_ rejection: PayloadRejection) -> String? {
    switch rejection {
    case .wrongType(_, let field, _, _), .missingField(_, let field), .outOfRange(_, let field, _, _): field
    default: nil
    }
}
