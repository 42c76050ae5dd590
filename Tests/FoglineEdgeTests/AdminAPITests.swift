import FoglineCore
import FoglineEdge
import FoglineWire
import Testing

@Suite("Admin API device routes")
struct AdminAPITests {
    var plane = DevicePlane(
        configuration: .init(site: "plant-1", node: "edge-a"), persistedClockBound: nil,
        at: .init(wallMilliseconds: 1_763_800_000_000, monotonicMilliseconds: 0))
    let moment = DevicePlane.Moment(wallMilliseconds: 1_763_800_001_000, monotonicMilliseconds: 1_000)

    mutating func call(_ method: String, _ path: String, _ body: String = "") throws -> (status: Int, json: JSONValue, actions: [DevicePlane.Action]) {
        guard let (response, actions) = AdminAPI.handle(.init(method: method, path: path, body: Array(body.utf8)), plane: &plane, fence: { _ in 7 }, at: moment)
        else { throw NotRouted() }
        return (response.status, try StrictJSON.parse(response.body), actions)
    }

    struct NotRouted: Error {}

    mutating func ingest(_ device: String, _ channel: FoglineTopic.DeviceChannel, _ json: String) {
        _ = plane.receive(topic: FoglineTopic.device(site: "plant-1", device: device, channel).string, payload: Array(json.utf8), at: moment)
    }

    @Test("GET /v1/devices shows id, online, profile, reported, desired and telemetry stats")
    mutating func listDevices() throws {
        ingest("th-1", .birth, #"{"profile":"thermostat","fw":"1.0"}"#)
        ingest("th-1", .reported, #"{"fields":{"setpoint":21}}"#)
        for seq in [0, 1, 1, 4] { ingest("th-1", .telemetry, #"{"seq":\#(seq),"values":{"temp":20}}"#) }
        let (status, json, _) = try call("GET", "/v1/devices")
        #expect(status == 200)
        let device = json[0]
        #expect(device?["id"]?.stringValue == "th-1" && device?["online"]?.boolValue == true)
        #expect(device?["profile"]?.stringValue == "thermostat")
        #expect(device?["reported"]?["setpoint"]?.numberValue == 21)
        #expect(device?["telemetry"]?["received"]?.numberValue == 3)
        #expect(device?["telemetry"]?["duplicates"]?.numberValue == 1)
        #expect(device?["telemetry"]?["gaps"]?.numberValue == 2)
        #expect(device?["telemetry"]?["lastSeq"]?.numberValue == 4)
        #expect(try call("GET", "/v1/devices/nope").status == 404)
    }

    @Test("PUT desired merges the fields and publishes them retained; bad bodies are 400 with a reason")
    mutating func putDesired() throws {
        let (status, json, actions) = try call("PUT", "/v1/devices/th-1/desired", #"{"fields":{"setpoint":22.5}}"#)
        #expect(status == 200 && json["desired"]?["setpoint"]?.numberValue == 22.5)
        #expect(actions.contains { if case .publish(_, _, _, true) = $0 { true } else { false } })
        for bad in ["", "{", #"{"fields":{"a":[1]}}"#, #"{"fields":{}}"#, #"{"setpoint":1}"#] {
            let (badStatus, error, badActions) = try call("PUT", "/v1/devices/th-1/desired", bad)
            #expect(badStatus == 400 && badActions.isEmpty, "\(bad)")
            #expect(error["error"]?.stringValue?.isEmpty == false)
        }
        #expect(try call("PUT", "/v1/devices/bad%20id/desired", #"{"fields":{"a":1}}"#).status == 400)
    }

    @Test("POST a command returns 202 with its id and fence; GET shows its status")
    mutating func commands() throws {
        let (status, json, actions) = try call("POST", "/v1/devices/valve-1/commands", #"{"name":"open_valve","args":{"percent":40}}"#)
        #expect(status == 202 && json["fence"]?.numberValue == 7 && json["status"]?.stringValue == "pending")
        #expect(actions.contains { if case .publish = $0 { true } else { false } })
        let id = try #require(json["id"]?.stringValue)
        ingest("valve-1", .cmdAck, #"{"id":"\#(id)","status":"rejected","detail":"stale fence"}"#)
        let after = try call("GET", "/v1/commands/\(id)")
        #expect(after.json["status"]?.stringValue == "rejected" && after.json["detail"]?.stringValue == "stale fence")
        #expect(try call("POST", "/v1/devices/valve-1/commands", #"{"args":{}}"#).status == 400)
        #expect(try call("DELETE", "/v1/devices").status == 405)
        #expect(AdminAPI.handle(.init(method: "GET", path: "/metrics"), plane: &plane, fence: { _ in 1 }, at: moment) == nil)
    }
}
