import FoglineCloud
import FoglineConfig
import FoglineCore
import FoglineDash
import FoglineTesting
import FoglineWire
import Foundation
import Logging
import Synchronization
import Testing

/// Builds a store holding one synced site, for the API tests; `makeStore` picks the backend.
final class APIFixture: Sendable {
    let store: any CloudStore
    let directory: URL?
    let api: CloudAPI
    let writer: CloudWriter
    let pushed: PushedSites

    /// Sites the API asked the sync service to push to.
    final class PushedSites: Sendable {
        let sites = Mutex<[String]>([])
    }

    convenience init(_ made: (any CloudStore, URL?)) async throws {
        try await self.init(store: made.0, directory: made.1)
    }

    init(store: any CloudStore, directory: URL? = nil) async throws {
        self.store = store
        self.directory = directory
        let metrics = CloudMetrics()
        writer = CloudWriter(instance: "test-1", store: store)
        let pushed = PushedSites()
        self.pushed = pushed
        api = CloudAPI(
            store: store, writer: writer, metrics: metrics, configuredNodes: ["plant-1": ["edge-a", "edge-b"], "plant-2": ["edge-x"]],
            afterWrite: { site in pushed.sites.withLock { $0.append(site) } })
        var state = SyncFixtures.edgeState()
        let edge = SyncFixtures.writer
        _ = state.recordTelemetry(
            device: "th-1", epoch: 1, seq: 3, deviceTime: nil, values: [.init(name: "temp", value: 22.5)],
            stamp: SyncFixtures.stamp(1_010), keepRaw: true)
        _ = state.addToCounter("telemetry.duplicates/th-1", 2, by: edge)
        _ = state.raise(Alarm(device: "th-1", code: "overtemp"), by: edge)
        _ = state.setPresence(device: "th-2", online: false, stamp: SyncFixtures.stamp(1_020))
        _ = try await store.merge(state.asDelta, site: "plant-1")
        try await store.recordContact(site: "plant-1", node: "edge-a", wallMilliseconds: 1_234)
        var chain = AuditChain(node: "edge-a")
        let entries = (1...3).map { chain.append(at: SyncFixtures.stamp(2_000 + $0), kind: "kv", key: "k", detail: "v\($0)") }
        _ = try await store.appendAudit(entries, site: "plant-1", node: "edge-a")
    }

    deinit {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    func json(_ method: String, _ path: String, _ body: String = "") async throws -> (Int, JSONValue) {
        let response = await api.handle(method: method, path: path, body: Array(body.utf8))
        #expect(response.contentType == "application/json")
        return (response.status, try StrictJSON.parse(response.body))
    }
}

/// The API over each store: the in-memory test double, the real SQLite store (in a temporary
/// file), and PostgreSQL when FOGLINE_TEST_POSTGRES_URL is set (each test in its own schema).
enum StoreKind: String, CaseIterable, CustomTestStringConvertible {
    case memory
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    static var available: [StoreKind] {
        ProcessInfo.processInfo.environment["FOGLINE_TEST_POSTGRES_URL"] == nil ? [.memory, .sqlite] : allCases
    }

    /// A fresh store, and the directory holding its files (removed by the fixture) if any.
    func make() async throws -> (any CloudStore, URL?) {
        switch self {
        case .memory:
            return (InMemoryCloudStore(), nil)
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fogline-cloud-api-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            return (try SQLiteCloudStore(path: directory.appendingPathComponent("cloud.sqlite").path), directory)
        case .postgres:
            let url = ProcessInfo.processInfo.environment["FOGLINE_TEST_POSTGRES_URL"]!
            let schema = "api_" + UUID().uuidString.prefix(8).lowercased()
            return (try await PostgresCloudStore(url: url, schema: schema, logger: Logger(label: "test")), nil)
        }
    }
}

@Suite("Cloud HTTP API")
struct CloudAPITests {
    @Test("GET /v1/sites lists synced and configured sites with nodes, devices and alarms", arguments: StoreKind.available)
    func sites(kind: StoreKind) async throws {
        let fixture = try await APIFixture(try await kind.make())
        let (status, body) = try await fixture.json("GET", "/v1/sites")
        #expect(status == 200)
        let sites = try #require(body.arrayElements)
        #expect(sites.map { $0["site"]?.stringValue } == ["plant-1", "plant-2"])
        let plant = sites[0]
        #expect(plant["devices"]?["total"]?.numberValue == 2)
        #expect(plant["devices"]?["online"]?.numberValue == 1)
        #expect(plant["activeAlarms"]?.numberValue == 1)
        let nodes = try #require(plant["nodes"]?.arrayElements)
        #expect(nodes.map { $0["node"]?.stringValue } == ["edge-a", "edge-b"])
        #expect(nodes[0]["lastSyncMs"]?.numberValue == 1_234)
        #expect(nodes[1]["lastSyncMs"]?.isNull == true)
    }

    @Test("GET /v1/sites/{site} adds the audit verification; an unknown site is a JSON 404", arguments: StoreKind.available)
    func site(kind: StoreKind) async throws {
        let fixture = try await APIFixture(try await kind.make())
        let (status, body) = try await fixture.json("GET", "/v1/sites/plant-1")
        #expect(status == 200)
        #expect(body["site"]?.stringValue == "plant-1")
        #expect(body["audit"]?["verified"]?.boolValue == true)
        #expect(body["audit"]?["entries"]?.numberValue == 3)
        let (missing, error) = try await fixture.json("GET", "/v1/sites/nowhere")
        #expect(missing == 404)
        #expect(error["error"]?.stringValue?.contains("no site nowhere") == true)
    }

    @Test("GET /v1/sites/{site}/devices lists every device of the site", arguments: StoreKind.available)
    func devices(kind: StoreKind) async throws {
        let fixture = try await APIFixture(try await kind.make())
        let (status, body) = try await fixture.json("GET", "/v1/sites/plant-1/devices")
        #expect(status == 200)
        let devices = try #require(body.arrayElements)
        #expect(devices.map { $0["id"]?.stringValue } == ["th-1", "th-2"])
        #expect(devices[0]["online"]?.boolValue == true)
        #expect(devices[0]["profile"]?.stringValue == "thermostat")
        #expect(devices[0]["activeAlarms"]?.numberValue == 1)
        let (empty, none) = try await fixture.json("GET", "/v1/sites/plant-2/devices")
        #expect(empty == 200 && none.arrayElements?.isEmpty == true)
    }

    @Test("GET /v1/sites/{site}/devices/{device}: twin with HLCs, presence, telemetry stats, rollups, alarms", arguments: StoreKind.available)
    func device(kind: StoreKind) async throws {
        let fixture = try await APIFixture(try await kind.make())
        let (status, body) = try await fixture.json("GET", "/v1/sites/plant-1/devices/th-1")
        #expect(status == 200)
        #expect(body["reported"]?["temp"]?.numberValue == 21.5)
        #expect(body["desired"]?["setpoint"]?.numberValue == 20)
        #expect(body["hlc"]?["reported"]?["temp"]?.stringValue == SyncFixtures.stamp(1_001).description)
        #expect(body["registry"]?["profile"]?.stringValue == "thermostat")
        #expect(body["presence"]?["online"]?.boolValue == true)
        #expect(body["presence"]?["since"]?.numberValue == 1_003)
        let telemetry = try #require(body["telemetry"])
        #expect(telemetry["received"]?.numberValue == 2)
        #expect(telemetry["gaps"]?.numberValue == 2)
        #expect(telemetry["lastSeq"]?.numberValue == 3)
        #expect(telemetry["duplicates"]?.numberValue == 2)
        let rollups = try #require(body["rollups"]?.arrayElements)
        #expect(rollups.count == 1)
        #expect(rollups[0]["metric"]?.stringValue == "temp")
        #expect(rollups[0]["window_start_ms"]?.numberValue == 0)
        #expect(rollups[0]["count"]?.numberValue == 2)
        #expect(rollups[0]["sum"]?.numberValue == 44)
        #expect(rollups[0]["min"]?.numberValue == 21.5)
        #expect(rollups[0]["max"]?.numberValue == 22.5)
        #expect(rollups[0]["last"]?.numberValue == 22.5)
        #expect(body["alarms"]?.arrayElements?.map(\.stringValue) == ["overtemp"])

        let (other, quiet) = try await fixture.json("GET", "/v1/sites/plant-1/devices/th-2")
        #expect(other == 200)
        #expect(quiet["telemetry"]?["duplicates"]?.numberValue == 0)
        #expect(quiet["telemetry"]?["lastSeq"]?.isNull == true)
        let (missing, error) = try await fixture.json("GET", "/v1/sites/plant-1/devices/th-9")
        #expect(missing == 404)
        #expect(error["error"]?.stringValue?.contains("no device th-9") == true)
    }

    @Test("PUT …/desired merges a cloud write, answers the merged desired and asks for a push", arguments: StoreKind.available)
    func putDesired(kind: StoreKind) async throws {
        let fixture = try await APIFixture(try await kind.make())
        let before = try await fixture.store.summary(site: "plant-1")
        let (status, body) = try await fixture.json("PUT", "/v1/sites/plant-1/devices/th-1/desired", #"{"fields":{"setpoint":23.5,"mode":"eco"}}"#)
        #expect(status == 200)
        #expect(body["desired"]?["setpoint"]?.numberValue == 23.5)
        #expect(body["desired"]?["mode"]?.stringValue == "eco")
        let stamp = try #require(body["hlc"]?["setpoint"]?.stringValue.flatMap(HLCTimestamp.init))
        #expect(stamp.node == NodeID(name: "cloud.test-1"))
        #expect(fixture.pushed.sites.withLock { $0 } == ["plant-1"])
        // A second write takes the writer's next dots: both survive.
        let (again, _) = try await fixture.json("PUT", "/v1/sites/plant-1/devices/th-1/desired", #"{"fields":{"fan":true}}"#)
        #expect(again == 200)
        let after = try await fixture.store.summary(site: "plant-1")
        #expect(after.context.contiguousMaximum(of: NodeID(name: "cloud.test-1")) == 3)
        #expect(after.context.includes(before.context))
        let view = try await fixture.store.view(site: "plant-1")
        #expect(view.desired.value("setpoint", of: "th-1") == .number(23.5))
        #expect(view.desired.value("fan", of: "th-1") == .bool(true))
    }

    @Test("PUT …/desired with bad input is a 400 with a sentence; unknown site or device a 404", arguments: StoreKind.available)
    func putDesiredErrors(kind: StoreKind) async throws {
        let fixture = try await APIFixture(try await kind.make())
        for body in ["not json", #"{"fields":{"a":{"nested":1}}}"#, #"{"fields":{}}"#, #"{"other":1}"#, #"{"fields":[1]}"#] {
            let (status, error) = try await fixture.json("PUT", "/v1/sites/plant-1/devices/th-1/desired", body)
            #expect(status == 400, "\(body)")
            #expect(error["error"]?.stringValue?.isEmpty == false)
        }
        let (site, _) = try await fixture.json("PUT", "/v1/sites/nowhere/devices/th-1/desired", #"{"fields":{"a":1}}"#)
        #expect(site == 404)
        let (device, _) = try await fixture.json("PUT", "/v1/sites/plant-1/devices/th-9/desired", #"{"fields":{"a":1}}"#)
        #expect(device == 404)
        #expect(fixture.pushed.sites.withLock { $0 }.isEmpty)
    }

    @Test("GET /v1/sites/{site}/audit shows each node's entries and whether the chain verifies", arguments: StoreKind.available)
    func audit(kind: StoreKind) async throws {
        let fixture = try await APIFixture(try await kind.make())
        let (status, body) = try await fixture.json("GET", "/v1/sites/plant-1/audit")
        #expect(status == 200)
        let nodes = try #require(body["nodes"]?.arrayElements)
        #expect(nodes.count == 1)
        #expect(nodes[0]["node"]?.stringValue == "edge-a")
        #expect(nodes[0]["verified"]?.boolValue == true)
        #expect(nodes[0]["entries"]?.arrayElements?.map { $0["detail"]?.stringValue } == ["v1", "v2", "v3"])
        let (missing, _) = try await fixture.json("GET", "/v1/sites/nowhere/audit")
        #expect(missing == 404)
    }

    @Test("/healthz, /metrics, unknown paths and methods", arguments: StoreKind.available)
    func misc(kind: StoreKind) async throws {
        let fixture = try await APIFixture(try await kind.make())
        let (health, ok) = try await fixture.json("GET", "/healthz")
        #expect(health == 200 && ok["status"]?.stringValue == "ok")
        let metrics = await fixture.api.handle(method: "GET", path: "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.contentType.hasPrefix("text/plain"))
        #expect(String(decoding: metrics.body, as: UTF8.self).contains(#"fogline_cloud_rejected_frames_total{reason="bad_signature"} 0"#))
        let (unknown, _) = try await fixture.json("GET", "/v2/nothing")
        #expect(unknown == 404)
        let (method, _) = try await fixture.json("DELETE", "/v1/sites/plant-1")
        #expect(method == 405)
    }

    @Test("with a token, the server answers 401 without it (and WWW-Authenticate), 200 with it; /healthz stays open")
    func bearerToken() async throws {
        let fixture = try await APIFixture(store: InMemoryCloudStore())
        let port = try MosquittoProcess.freeLoopbackPort()
        let secret = "fedcba9876543210fedcba9876543210"
        let server = CloudHTTPServer(
            api: fixture.api, host: "127.0.0.1", port: port, token: try #require(BearerToken(secret)), logger: .init(label: "test"))
        let running = Task { try await server.run() }
        defer { running.cancel() }
        let health = try await pollHTTP(port: port, "GET", "/healthz")
        #expect(health.status == 200)
        let missing = try await requestOffPool(port: port, "GET", "/v1/sites")
        #expect(missing.status == 401)
        #expect(missing.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
        #expect(try StrictJSON.parse(missing.body)["error"]?.stringValue?.contains("FOGLINE_API_TOKEN") == true)
        let wrong = try await requestOffPool(port: port, "GET", "/v1/sites", headers: ["Authorization": "Bearer \(secret.dropLast())x"])
        #expect(wrong.status == 401)
        let write = try await requestOffPool(
            port: port, "PUT", "/v1/sites/plant-1/devices/th-1/desired", body: Array(#"{"fields":{"x":1}}"#.utf8))
        #expect(write.status == 401)
        #expect(fixture.pushed.sites.withLock { $0 }.isEmpty, "a refused write changes nothing")
        let right = try await requestOffPool(port: port, "GET", "/v1/sites", headers: ["Authorization": "Bearer \(secret)"])
        #expect(right.status == 200)

        // The dashboard's client sends the token it is given (--token-file or FOGLINE_API_TOKEN).
        let url = "http://127.0.0.1:\(port)"
        let withToken = try await offPool { () throws -> Int in
            var rate = MessageRate()
            return try DashClient(url: url, token: secret).fetch(FetchPlan(), atMs: 0, rate: &rate).sites.count
        }
        #expect(withToken == (try StrictJSON.parse(right.body)).arrayElements?.count)
        let withoutToken: String = try await offPool {
            var rate = MessageRate()
            do { _ = try DashClient(url: url).fetch(FetchPlan(), atMs: 0, rate: &rate) } catch { return "\(error)" }
            return "no error"
        }
        #expect(withoutToken.contains("401") && withoutToken.contains("FOGLINE_API_TOKEN"), "\(withoutToken)")
    }

    @Test("the Hummingbird server serves the API over HTTP")
    func overHTTP() async throws {
        let fixture = try await APIFixture(store: InMemoryCloudStore())
        let port = try MosquittoProcess.freeLoopbackPort()
        let server = CloudHTTPServer(api: fixture.api, host: "127.0.0.1", port: port, logger: .init(label: "test"))
        let running = Task { try await server.run() }
        defer { running.cancel() }
        let response = try await pollHTTP(port: port, "GET", "/v1/sites/plant-1/devices/th-1")
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "application/json")
        #expect(try StrictJSON.parse(response.body)["reported"]?["temp"]?.numberValue == 21.5)
        let put = try await requestOffPool(port: port, "PUT", "/v1/sites/plant-1/devices/th-1/desired", body: Array(#"{"fields":{"x":1}}"#.utf8))
        #expect(put.status == 200)
        let missing = try await requestOffPool(port: port, "GET", "/v1/sites/nope")
        #expect(missing.status == 404)
        #expect(try StrictJSON.parse(missing.body)["error"] != nil)
    }
}
