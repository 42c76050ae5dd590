public import FoglineCore
public import FoglineWire

/// An HTTP request as the admin API sees it.
public struct AdminRequest: Sendable {
    public var method: String
    public var path: String
    public var body: [UInt8]
    /// The `Authorization` header, if any (see ``AdminAccess``).
    public var authorization: String?

    public init(method: String, path: String, body: [UInt8] = [], authorization: String? = nil) {
        self.method = method
        self.path = path
        self.body = body
        self.authorization = authorization
    }
}

/// An HTTP response of this API (shared with the other JSON API).
public typealias AdminResponse = APIResponse

/// The device routes of the edge admin API (DESIGN.md, "Commands, APIs and configuration"), as a
/// pure function of the device plane: reads render it, writes mutate it and return the actions
/// the shell performs. `/healthz`, `/metrics` and `/v1/status` belong to the shell.
public enum AdminAPI {
    /// Handles `request`, or returns nil when the path is not a device route. `fence` gives the
    /// fencing token of this node's lease on a device's shard (nil: another node owns it);
    /// `siteRaw` reads what the site's replicated raw readings of a device say (from the store).
    public static func handle(
        _ request: AdminRequest, plane: inout DevicePlane, fence: (String) -> UInt64?,
        siteRaw: (String) -> RawTelemetrySummary? = { _ in nil }, at moment: DevicePlane.Moment
    ) -> (AdminResponse, [DevicePlane.Action])? {
        let segments = request.path.split(separator: "?", maxSplits: 1)[0].split(separator: "/").map(String.init)
        guard segments.count >= 2, segments[0] == "v1" else { return nil }
        switch (request.method, segments.dropFirst().first, segments.count) {
        case ("GET", "devices", 2):
            return (.json(200, .array(plane.deviceIDs.map { deviceJSON($0, plane) })), [])
        case ("GET", "devices", 3):
            guard plane.deviceIDs.contains(segments[2]) else {
                return (.error(404, "no device \(segments[2]) at this node; GET /v1/devices lists them"), [])
            }
            let device = segments[2]
            let site = SiteTelemetryStats(device: device, raw: siteRaw(device), counters: plane.state.counters)
            return (.json(200, deviceJSON(device, plane, siteTelemetry: site)), [])
        case ("PUT", "devices", 4) where segments[3] == "desired":
            return setDesired(device: segments[2], request.body, &plane, moment)
        case ("POST", "devices", 4) where segments[3] == "commands":
            return sendCommand(device: segments[2], request.body, &plane, fence, moment)
        case ("GET", "commands", 3):
            guard let command = plane.commands[segments[2]] else {
                return (.error(404, "no command \(segments[2]) at this node"), [])
            }
            return (.json(200, commandJSON(command)), [])
        case (_, "devices", _), (_, "commands", _):
            return (.error(405, "\(request.method) \(request.path) is not supported; see the README's admin API table"), [])
        default:
            return nil
        }
    }

    /// A device as `GET /v1/devices` shows it; `GET /v1/devices/{device}` adds `siteTelemetry`,
    /// the stats over every node's readings (what the aggregator shows once it holds them).
    public static func deviceJSON(_ device: String, _ plane: DevicePlane, siteTelemetry: SiteTelemetryStats? = nil) -> JSONValue {
        let ingest = plane.devices[device]
        let state = plane.state
        let profile = state.registry.value("profile", of: device).map(JSONValue.init) ?? .null
        let online = state.presence[device]?.value.online ?? false
        let lastSeq: JSONValue = ingest?.lastSeq.map { .number(Double($0)) } ?? .null
        var members: [(key: String, value: JSONValue)] = [
            (key: "id", value: .string(device)),
            (key: "online", value: .bool(online)),
            (key: "profile", value: profile),
            (key: "registry", value: state.registry.valuesJSON(of: device)),
            (key: "reported", value: state.reported.valuesJSON(of: device)),
            (key: "desired", value: state.desired.valuesJSON(of: device)),
            (key: "hlc", value: .object([
                (key: "reported", value: state.reported.stampsJSON(of: device)),
                (key: "desired", value: state.desired.stampsJSON(of: device)),
            ])),
            (key: "telemetry", value: .object([
                (key: "received", value: .number(Double(ingest?.received ?? 0))),
                (key: "duplicates", value: .number(Double(ingest?.duplicates ?? 0))),
                (key: "gaps", value: .number(Double(ingest?.gaps ?? 0))),
                (key: "gapsFilled", value: .number(Double(ingest?.gapsFilled ?? 0))),
                (key: "lastSeq", value: lastSeq),
            ])),
            (key: "commands", value: CommandHistory(registryValue: state.registry.value(CommandHistory.registryField, of: device)).json),
        ]
        if let siteTelemetry { members.append((key: "siteTelemetry", value: siteTelemetry.json)) }
        return .object(members)
    }

    public static func commandJSON(_ command: CommandRecord) -> JSONValue {
        .object([
            (key: "id", value: .string(command.id)),
            (key: "device", value: .string(command.device)),
            (key: "name", value: .string(command.name)),
            (key: "args", value: command.args),
            (key: "fence", value: .number(Double(command.fence))),
            (key: "status", value: .string(command.status.rawValue)),
            (key: "attempts", value: .number(Double(command.attempts))),
            (key: "detail", value: command.detail.map(JSONValue.string) ?? .null),
        ])
    }

    // MARK: Private

    /// `PUT /v1/devices/{device}/desired` with `{"fields": {"setpoint": 21.5, …}}`.
    private static func setDesired(
        device: String, _ body: [UInt8], _ plane: inout DevicePlane, _ moment: DevicePlane.Moment
    ) -> (AdminResponse, [DevicePlane.Action]) {
        guard SegmentName.isValid(device) else {
            return (.error(400, "`\(device)` is not a valid device id ([A-Za-z0-9_.-]{1,64})"), [])
        }
        let fields: [(name: String, value: FieldValue)]
        do {
            fields = try ReportedPayload.decode(body).fields  // the same {"fields":{…}} shape and rules
        } catch {
            return (.error(400, "the body must be {\"fields\": {\"name\": value, …}} with scalar values: \(error)"), [])
        }
        guard !fields.isEmpty else { return (.error(400, "`fields` is empty: nothing to set"), []) }
        let actions = plane.setDesired(device: device, fields: fields.map { ($0.name, $0.value) }, at: moment)
        return (.json(200, deviceJSON(device, plane)), actions)
    }

    /// `POST /v1/devices/{device}/commands` with `{"name": "open_valve", "args": {…}}`.
    private static func sendCommand(
        device: String, _ body: [UInt8], _ plane: inout DevicePlane, _ fence: (String) -> UInt64?, _ moment: DevicePlane.Moment
    ) -> (AdminResponse, [DevicePlane.Action]) {
        guard SegmentName.isValid(device) else {
            return (.error(400, "`\(device)` is not a valid device id ([A-Za-z0-9_.-]{1,64})"), [])
        }
        guard let fence = fence(device) else {
            return (.error(409, "this node does not own the shard of device \(device); send the command to the node that does (GET /v1/status on each node lists its shards)"), [])
        }
        let request: JSONValue
        do {
            request = try StrictJSON.parse(body)
        } catch {
            return (.error(400, "the body must be JSON like {\"name\": \"open_valve\", \"args\": {…}}: \(error)"), [])
        }
        guard let name = request["name"]?.stringValue, PayloadName.isValid(name) else {
            return (.error(400, "`name` must be a non-empty string of at most \(PayloadName.maxBytes) bytes"), [])
        }
        let args = request["args"] ?? .object([])
        guard args.objectMembers != nil else { return (.error(400, "`args` must be an object"), []) }
        let (command, actions) = plane.sendCommand(device: device, name: name, args: args, fence: fence, at: moment)
        return (.json(202, commandJSON(command)), actions)
    }
}

extension DevicePlane {
    /// Every device known here: registered, present, or seen by ingest; sorted.
    public var deviceIDs: [String] {
        Set(devices.keys).union(state.registry.deviceIDs).union(state.presence.registers.keys).sorted()
    }
}
