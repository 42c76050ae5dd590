import FoglineCore
import FoglineWire
import Testing

/// Decodes `payload.encoded()` and checks that it gives back `payload`.
func expectRoundTrip<P: DevicePayload & Equatable>(_ payload: P, sourceLocation: SourceLocation = #_sourceLocation) {
    let bytes = payload.encoded()
    do {
        let decoded = try P.decode(bytes)
        #expect(decoded == payload, "\(payload.encodedString())", sourceLocation: sourceLocation)
        #expect(decoded.encoded() == bytes, sourceLocation: sourceLocation)
    } catch {
        Issue.record("\(P.kind) payload \(payload.encodedString()) does not decode: \(error)", sourceLocation: sourceLocation)
    }
}

@Suite("Device payloads: deterministic encoding")
struct DevicePayloadEncodingTests {
    @Test func desired() throws {
        let desired = try DesiredPayload(
            fields: [("setpoint", .number(22.5)), ("mode", .string("heat")), ("eco", .bool(true)), ("note", .null), ("n", .number(3))],
            hlc: "0001763800000123-0001-node-a"
        )
        #expect(desired.encodedString() == #"{"fields":{"setpoint":22.5,"mode":"heat","eco":true,"note":null,"n":3},"hlc":"0001763800000123-0001-node-a"}"#)
        expectRoundTrip(desired)
        expectRoundTrip(try DesiredPayload(fields: [], hlc: "h"))
    }

    @Test func command() throws {
        let command = try CommandPayload(id: "c-1", name: "open_valve", args: ["percent": 40, "ramp": [1, 2.5], "why": "dry"], fence: 42)
        #expect(command.encodedString() == #"{"id":"c-1","name":"open_valve","args":{"percent":40,"ramp":[1,2.5],"why":"dry"},"fence":42}"#)
        expectRoundTrip(command)
        let noArgs = try CommandPayload(id: "c-2", name: "reboot", fence: 1 << 53)
        #expect(noArgs.encodedString() == #"{"id":"c-2","name":"reboot","args":{},"fence":9007199254740992.0}"#)
        expectRoundTrip(noArgs)
    }

    @Test func replayRequest() throws {
        let replay = try ReplayRequestPayload(from: 100, to: 140)
        #expect(replay.encodedString() == #"{"from":100,"to":140}"#)
        #expect(replay.range == 100...140)
        expectRoundTrip(replay)
        expectRoundTrip(try ReplayRequestPayload(from: 7, to: 7))
    }

    @Test func nodeStatus() throws {
        let status = try NodeStatusPayload(state: "online", extra: [("clock", "trusted"), ("since", 1_763_800_000_123), ("roles", ["cloud-uplink"])])
        #expect(status.encodedString() == #"{"state":"online","clock":"trusted","since":1763800000123,"roles":["cloud-uplink"]}"#)
        expectRoundTrip(status)
        let offline = try NodeStatusPayload(state: "offline")
        #expect(offline.encodedString() == #"{"state":"offline"}"#)
        expectRoundTrip(offline)
    }

    @Test func deviceToEdgePayloadsEncodeToo() throws {
        let birth = try BirthPayload(profile: "thermostat", firmware: "1.4.2", metrics: [("temp", "C"), ("rh", "%")], supportsReplay: true)
        #expect(birth.encodedString() == #"{"profile":"thermostat","fw":"1.4.2","metrics":{"temp":"C","rh":"%"},"replay":true}"#)
        expectRoundTrip(birth)
        expectRoundTrip(try BirthPayload(profile: "p"))
        #expect(try BirthPayload(profile: "p").encodedString() == #"{"profile":"p","metrics":{},"replay":false}"#)
        let continuing = try birth.continuing(at: 42)
        #expect(continuing.encodedString() == #"{"profile":"thermostat","fw":"1.4.2","metrics":{"temp":"C","rh":"%"},"replay":true,"seq":42}"#)
        expectRoundTrip(continuing)
        #expect(try birth.continuing(at: 0) == birth, "seq 0 is a new stream, written as no seq at all")

        let telemetry = try TelemetryPayload(seq: 123, deviceTime: 1_763_800_000_123, values: [("temp", 21.5), ("on", 1)])
        #expect(telemetry.encodedString() == #"{"seq":123,"ts":1763800000123,"values":{"temp":21.5,"on":1}}"#)
        expectRoundTrip(telemetry)
        #expect(try TelemetryPayload(seq: 0, values: []).encodedString() == #"{"seq":0,"values":{}}"#)

        let reported = try ReportedPayload(fields: [("setpoint", .number(21)), ("mode", .string("heat"))])
        #expect(reported.encodedString() == #"{"fields":{"setpoint":21,"mode":"heat"}}"#)
        expectRoundTrip(reported)

        let ack = try CommandAckPayload(id: "c-1", status: .failed, detail: "stuck")
        #expect(ack.encodedString() == #"{"id":"c-1","status":"failed","detail":"stuck"}"#)
        expectRoundTrip(ack)
        expectRoundTrip(try CommandAckPayload(id: "c-1", status: .ok))

        #expect(DeathPayload(reason: "lost").encodedString() == #"{"reason":"lost"}"#)
        #expect(DeathPayload().encodedString() == "{}")
        expectRoundTrip(DeathPayload(reason: "lost"))
        expectRoundTrip(DeathPayload())
    }

    @Test func encodingEscapesHostileText() throws {
        let reported = try ReportedPayload(fields: [("a\"b", .string("line\nbreak\u{0}"))])
        #expect(reported.encodedString() == #"{"fields":{"a\"b":"line\nbreak\u0000"}}"#)
        expectRoundTrip(reported)
    }
}

@Suite("Device payloads: initializers accept only what decoders accept")
struct DevicePayloadValidationTests {
    @Test func invalidNames() {
        #expect(rejection { () throws(PayloadRejection) in _ = try DesiredPayload(fields: [], hlc: "") }?.reason == "out_of_range")
        #expect(rejection { () throws(PayloadRejection) in _ = try DesiredPayload(fields: [("", .null)], hlc: "h") }?.reason == "out_of_range")
        #expect(rejection { () throws(PayloadRejection) in _ = try CommandPayload(id: "", name: "x", fence: 1) }?.reason == "out_of_range")
        #expect(rejection { () throws(PayloadRejection) in _ = try CommandPayload(id: "c", name: String(repeating: "n", count: 129), fence: 1) }?.reason == "out_of_range")
        #expect(rejection { () throws(PayloadRejection) in _ = try BirthPayload(profile: "") }?.reason == "out_of_range")
        #expect(rejection { () throws(PayloadRejection) in _ = try BirthPayload(profile: "p", metrics: [("", "C")]) }?.reason == "out_of_range")
        #expect(rejection { () throws(PayloadRejection) in _ = try BirthPayload(profile: "p", nextSeq: (1 << 53) + 1) }?.reason == "out_of_range")
        #expect(rejection { () throws(PayloadRejection) in _ = try TelemetryPayload(seq: 1, values: [("", 1)]) }?.reason == "out_of_range")
        #expect(rejection { () throws(PayloadRejection) in _ = try ReportedPayload(fields: [("", .null)]) }?.reason == "out_of_range")
        #expect(rejection { () throws(PayloadRejection) in _ = try CommandAckPayload(id: "", status: .ok) }?.reason == "out_of_range")
        #expect(rejection { () throws(PayloadRejection) in _ = try NodeStatusPayload(state: "") }?.reason == "out_of_range")
    }

    @Test func repeatedNames() {
        #expect(rejection { () throws(PayloadRejection) in _ = try DesiredPayload(fields: [("a", .null), ("a", .bool(true))], hlc: "h") }
            == .duplicateKey(key: "a", offset: nil))
        #expect(rejection { () throws(PayloadRejection) in _ = try ReportedPayload(fields: [("a", .null), ("b", .null), ("a", .null)]) }?.reason == "duplicate_key")
        #expect(rejection { () throws(PayloadRejection) in _ = try TelemetryPayload(seq: 1, values: [("t", 1), ("t", 2)]) }?.reason == "duplicate_key")
        #expect(rejection { () throws(PayloadRejection) in _ = try BirthPayload(profile: "p", metrics: [("t", "C"), ("t", "F")]) }?.reason == "duplicate_key")
        #expect(rejection { () throws(PayloadRejection) in _ = try NodeStatusPayload(state: "online", extra: [("state", "x")]) }?.reason == "duplicate_key")
        #expect(rejection { () throws(PayloadRejection) in _ = try NodeStatusPayload(state: "online", extra: [("a", 1), ("a", 2)]) }?.reason == "duplicate_key")
        #expect(rejection { () throws(PayloadRejection) in _ = try NodeStatusPayload(state: "online", extra: [("a", .object([(key: "k", value: 1), (key: "k", value: 2)]))]) }?.reason == "duplicate_key")
        #expect(rejection { () throws(PayloadRejection) in _ = try CommandPayload(id: "c", name: "n", args: .object([(key: "k", value: 1), (key: "k", value: 2)]), fence: 1) }?.reason == "duplicate_key")
        let manyFields = (0..<40).map { (name: "f\($0)", value: FieldValue.null) } + [(name: "f3", value: FieldValue.null)]
        #expect(rejection { () throws(PayloadRejection) in _ = try ReportedPayload(fields: manyFields) }?.reason == "duplicate_key")
    }

    @Test func numbersJSONCannotCarry() {
        #expect(rejection { () throws(PayloadRejection) in _ = try TelemetryPayload(seq: (1 << 53) + 1, values: []) }?.reason == "out_of_range")
        #expect(rejection { () throws(PayloadRejection) in _ = try TelemetryPayload(seq: 1, deviceTime: .max, values: []) }?.reason == "out_of_range")
        #expect(rejection { () throws(PayloadRejection) in _ = try TelemetryPayload(seq: 1, deviceTime: .min, values: []) }?.reason == "out_of_range")
        #expect(rejection { () throws(PayloadRejection) in _ = try TelemetryPayload(seq: 1, values: [("t", .nan)]) }
            == .outOfRange(payload: "telemetry", field: "values.t", requirement: "a finite number", found: "nan"))
        #expect(rejection { () throws(PayloadRejection) in _ = try TelemetryPayload(seq: 1, values: [("t", .infinity)]) }?.reason == "out_of_range")
        #expect(rejection { () throws(PayloadRejection) in _ = try DesiredPayload(fields: [("t", .number(-.infinity))], hlc: "h") }?.reason == "out_of_range")
        #expect(rejection { () throws(PayloadRejection) in _ = try CommandPayload(id: "c", name: "n", fence: (1 << 53) + 1) }?.reason == "out_of_range")
        #expect(rejection { () throws(PayloadRejection) in _ = try CommandPayload(id: "c", name: "n", args: ["a": [1, .number(.nan)]], fence: 1) }
            == .outOfRange(payload: "cmd", field: "args.a[1]", requirement: "a finite number", found: "nan"))
        #expect(rejection { () throws(PayloadRejection) in _ = try NodeStatusPayload(state: "online", extra: [("load", .number(.nan))]) }?.reason == "out_of_range")
        #expect(rejection { () throws(PayloadRejection) in _ = try ReplayRequestPayload(from: 0, to: (1 << 53) + 1) }?.reason == "out_of_range")
        #expect(rejection { () throws(PayloadRejection) in _ = try ReplayRequestPayload(from: 5, to: 4) }?.reason == "out_of_range")
        #expect((try? TelemetryPayload(seq: 1, deviceTime: -(1 << 53), values: [])) != nil)
    }

    @Test func commandArgumentsMustBeAnObjectThatFitsTheDepthLimit() throws {
        for args: JSONValue in [[1], "x", 1, .null, true] {
            #expect(rejection { () throws(PayloadRejection) in _ = try CommandPayload(id: "c", name: "n", args: args, fence: 1) }?.reason == "wrong_type")
        }
        func nested(_ depth: Int) -> JSONValue {
            var value: JSONValue = .object([])
            for _ in 1..<depth { value = ["a": value] }
            return value
        }
        let deepest = try CommandPayload(id: "c", name: "n", args: nested(JSONLimits.defaultMaxDepth - 1), fence: 1)
        expectRoundTrip(deepest)  // the whole command is exactly at the default limit
        #expect(rejection { () throws(PayloadRejection) in _ = try CommandPayload(id: "c", name: "n", args: nested(JSONLimits.defaultMaxDepth), fence: 1) }?.reason == "out_of_range")
    }

    @Test(arguments: [
        (#"{"name":"n","args":{},"fence":1}"#, "missing_field"),
        (#"{"id":"c","args":{},"fence":1}"#, "missing_field"),
        (#"{"id":"c","name":"n","fence":1}"#, "missing_field"),
        (#"{"id":"c","name":"n","args":{}}"#, "missing_field"),
        (#"{"id":"c","name":"n","args":[],"fence":1}"#, "wrong_type"),
        (#"{"id":"c","name":"n","args":null,"fence":1}"#, "wrong_type"),
        (#"{"id":"c","name":"n","args":{},"fence":"1"}"#, "wrong_type"),
        (#"{"id":"c","name":"n","args":{},"fence":-1}"#, "out_of_range"),
        (#"{"id":"c","name":"n","args":{},"fence":1.5}"#, "out_of_range"),
        (#"{"id":"c","name":"","args":{},"fence":1}"#, "out_of_range"),
        (#"{"id":"c","name":"n","args":{"a":{"b":1,"b":2}},"fence":1}"#, "duplicate_key"),
    ])
    func strictCommandDecoding(text: String, reason: String) {
        #expect(decodeRejection(CommandPayload.self, text)?.reason == reason, "\(text)")
    }

    @Test(arguments: [
        (#"{"to":1}"#, "missing_field"), (#"{"from":1}"#, "missing_field"), (#"{"from":"1","to":2}"#, "wrong_type"),
        (#"{"from":3,"to":2}"#, "out_of_range"), (#"{"from":-1,"to":2}"#, "out_of_range"), (#"[1,2]"#, "not_object"),
    ])
    func strictReplayDecoding(text: String, reason: String) {
        #expect(decodeRejection(ReplayRequestPayload.self, text)?.reason == reason, "\(text)")
    }

    @Test(arguments: [
        (#"{"hlc":"h"}"#, "missing_field"), (#"{"fields":{}}"#, "missing_field"), (#"{"fields":{},"hlc":1}"#, "wrong_type"),
        (#"{"fields":{},"hlc":""}"#, "out_of_range"), (#"{"fields":{"a":[1]},"hlc":"h"}"#, "wrong_type"),
        (#"{"fields":[],"hlc":"h"}"#, "wrong_type"),
    ])
    func strictDesiredDecoding(text: String, reason: String) {
        #expect(decodeRejection(DesiredPayload.self, text)?.reason == reason, "\(text)")
    }

    @Test func nodeStatusKeepsExtraMembersInOrder() throws {
        let status = try NodeStatusPayload.decode(#"{"z":1,"state":"online","a":{"b":[true]}}"#)
        #expect(status.state == "online")
        #expect(status.extra.map(\.key) == ["z", "a"])
        #expect(status.encodedString() == #"{"state":"online","z":1,"a":{"b":[true]}}"#)
        #expect(decodeRejection(NodeStatusPayload.self, #"{"online":true}"#)?.reason == "missing_field")
        #expect(decodeRejection(NodeStatusPayload.self, #"{"state":1}"#)?.reason == "wrong_type")
    }

    @Test func decodingFromAHandBuiltValueIsAsStrictAsFromBytes() {
        let repeated = JSONValue.object([(key: "seq", value: 1), (key: "values", value: .object([(key: "t", value: 1), (key: "t", value: 2)]))])
        #expect(rejection { () throws(PayloadRejection) in _ = try TelemetryPayload(json: repeated) }?.reason == "duplicate_key")
        let nan: JSONValue = ["seq": 1, "values": ["t": .number(.nan)]]
        #expect(rejection { () throws(PayloadRejection) in _ = try TelemetryPayload(json: nan) }?.reason == "out_of_range")
        let huge: JSONValue = ["seq": .number(.infinity), "values": [:]]
        #expect(rejection { () throws(PayloadRejection) in _ = try TelemetryPayload(json: huge) }?.reason == "out_of_range")
    }

    @Test func limitsArePassedThrough() {
        let text = #"{"seq":1,"values":{"t":1}}"#
        #expect(rejection { () throws(PayloadRejection) in _ = try TelemetryPayload.decode(text, limits: JSONLimits(maxBytes: 10)) }?.reason == "oversized")
        #expect(rejection { () throws(PayloadRejection) in _ = try TelemetryPayload.decode(text, limits: JSONLimits(maxDepth: 1)) }?.reason == "too_deep")
        #expect(rejection { () throws(PayloadRejection) in _ = try TelemetryPayload.decode(text, limits: JSONLimits(maxDepth: 2)) } == nil)
    }
}
