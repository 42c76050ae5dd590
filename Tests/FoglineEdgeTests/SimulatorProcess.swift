import FoglineTesting
import FoglineWire
import Foundation

/// `fogline-sim` running in the background against a test's broker, writing a `--report`;
/// killed in deinit if the test ends before it does. Immutable; its process is thread-safe.
final class SimulatorProcess: Sendable {
    let program: ProgramProcess
    let reportFile: URL

    /// The repository's `devices/` directory of profiles.
    static var devicesDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../devices").standardized.path
    }

    /// `--profile devices/{name}.yaml` for each name.
    static func profiles(_ names: String...) -> [String] {
        names.flatMap { ["--profile", "\(devicesDirectory)/\($0).yaml"] }
    }

    /// `brokerURL` replaces the broker's plain listener (e.g. its TLS listener, `mqtts://…`).
    init(broker: MosquittoProcess, directory: URL, brokerURL: String? = nil, arguments: [String]) throws {
        reportFile = directory.appendingPathComponent("report-\(UUID().uuidString.prefix(8)).json")
        program = try ProgramProcess(
            "fogline-sim", arguments: ["--broker", brokerURL ?? broker.url, "--site", "plant-1", "--report", reportFile.path] + arguments,
            logDirectory: directory)
    }

    deinit {
        if program.process.isRunning { program.stop(signal: SIGKILL) }
    }

    var log: String { program.log }

    /// Waits for the run to end (its `--duration`, or now with SIGTERM when `stop`), then returns
    /// its exit status and report (`nil` if it wrote none).
    func finish(stop: Bool = false) throws -> (status: Int32, report: SimulatorReport?) {
        let status = stop ? program.stop(signal: SIGTERM) : program.process.wait()
        guard let data = try? Data(contentsOf: reportFile) else { return (status, nil) }
        return (status, SimulatorReport(try StrictJSON.parse(Array(data), limits: .init(maxBytes: 64 << 20, maxDepth: 32))))
    }
}

/// The parts of a `fogline-sim --report` the tests compare with the edge.
struct SimulatorReport {
    struct Device {
        var published: Double
        var lastSeq: Double?
        var gaps: Double
        var births: Double
        /// Births published without having seen an edge `online` (`--await-edge` ran out).
        var edgeWaitTimeouts: Double
        var connectionLosses: Double
        var fenceRejections: Double
        /// Readings re-sent in answer to `replay` requests.
        var replayed: Double
        var acked: (ok: Double, rejected: Double, failed: Double)
    }

    let json: JSONValue
    let devices: [String: Device]

    init(_ json: JSONValue) {
        self.json = json
        var devices: [String: Device] = [:]
        for device in json["devices"]?.arrayElements ?? [] {
            guard let id = device["id"]?.stringValue else { continue }
            let acked = device["commandsAcked"]
            devices[id] = Device(
                published: device["published"]?.numberValue ?? 0, lastSeq: device["lastSeq"]?.numberValue,
                gaps: device["gaps"]?.numberValue ?? 0, births: device["births"]?.numberValue ?? 0,
                edgeWaitTimeouts: device["edgeWaitTimeouts"]?.numberValue ?? 0,
                connectionLosses: device["connectionLosses"]?.numberValue ?? 0,
                fenceRejections: device["fenceRejections"]?.numberValue ?? 0,
                replayed: device["replayedMessages"]?.numberValue ?? 0,
                acked: (acked?["ok"]?.numberValue ?? 0, acked?["rejected"]?.numberValue ?? 0, acked?["failed"]?.numberValue ?? 0))
        }
        self.devices = devices
    }
}

/// The edge's admin API as the tests use it.
struct AdminClient {
    let port: Int

    func get(_ path: String) throws -> JSONValue? {
        let response = try HTTPTestClient.request(port: port, method: "GET", path: path)
        guard response.status == 200 else { return nil }
        return try StrictJSON.parse(response.body, limits: .init(maxBytes: 64 << 20, maxDepth: 32))
    }

    /// `GET /v1/devices` by id.
    func devices() throws -> [String: JSONValue] {
        var byID: [String: JSONValue] = [:]
        for device in try get("/v1/devices")?.arrayElements ?? [] {
            if let id = device["id"]?.stringValue { byID[id] = device }
        }
        return byID
    }

    /// `POST /v1/devices/{device}/commands`; returns the command record (202) or throws.
    func sendCommand(to device: String, _ body: String) throws -> JSONValue {
        let response = try HTTPTestClient.request(port: port, method: "POST", path: "/v1/devices/\(device)/commands", body: Array(body.utf8))
        guard response.status == 202 else { throw AdminFailure(status: response.status, body: response.text) }
        return try StrictJSON.parse(response.body)
    }

    func command(_ id: String) throws -> JSONValue? { try get("/v1/commands/\(id)") }

    struct AdminFailure: Error, CustomStringConvertible {
        var status: Int
        var body: String
        var description: String { "admin API answered \(status): \(body)" }
    }
}
