import FoglineTesting
import FoglineWire
import Foundation

/// A real broker and a real `fogline-edge` process for integration tests, each in its own
/// temporary directory, on free loopback ports; everything is stopped and removed in deinit.
/// A second node of the same site shares the first one's broker: `EdgeUnderTest(sharing:)`.
/// Used by one test at a time (and handed to `OffPool` for its blocking calls), hence
/// `@unchecked Sendable`.
final class EdgeUnderTest: @unchecked Sendable {
    let broker: MosquittoProcess
    let directory: URL
    let adminPort: Int
    private(set) var edge: ProgramProcess?

    /// A new broker, or `broker` shared with another node (it then outlives neither).
    init(sharing broker: MosquittoProcess? = nil) throws {
        self.broker = try broker ?? MosquittoProcess()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fogline-edge-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        adminPort = try MosquittoProcess.freeLoopbackPort()
    }

    deinit {
        edge?.stop(signal: SIGKILL)
        // FOGLINE_KEEP_TEST_DIRS=1 keeps data and logs for a post-mortem.
        if ProcessInfo.processInfo.environment["FOGLINE_KEEP_TEST_DIRS"] == nil { try? FileManager.default.removeItem(at: directory) }
    }

    var databasePath: String { directory.appendingPathComponent("data/edge.sqlite").path }

    /// The edge's output so far (for failure messages).
    var log: String { edge?.log ?? "" }

    /// Starts (or restarts) a node of site plant-1 (edge-a unless `node` says otherwise) and
    /// waits until it reports healthy. `configuration` is YAML written to a file and passed with
    /// `--config` (e.g. `commands: {timeout_ms: 300, attempts: 2}`); flags still give site, node,
    /// broker (`brokerURL`, default the test broker's plain listener), data and admin. With
    /// `awaitHealthy` false it waits only for the admin API (a node whose peers are absent owns
    /// no shards, so it never reports healthy).
    func startEdge(
        node: String = "edge-a", configuration: String? = nil, brokerURL: String? = nil, extraArguments: [String] = [],
        awaitHealthy: Bool = true
    ) throws {
        try launchEdge(node: node, configuration: configuration, brokerURL: brokerURL, extraArguments: extraArguments)
        if awaitHealthy {
            try waitUntil("the edge's /healthz to report ok") {
                try HTTPTestClient.request(port: adminPort, method: "GET", path: "/healthz").status == 200
            }
        } else {
            try waitUntil("the edge's admin API") { try HTTPTestClient.request(port: adminPort, method: "GET", path: "/metrics").status == 200 }
        }
    }

    /// The configuration file `launchEdge` writes and passes with `--config`.
    var configurationFile: URL { directory.appendingPathComponent("edge.yaml") }

    /// Starts the node like ``startEdge(node:configuration:brokerURL:extraArguments:awaitHealthy:)``
    /// without waiting for it (async tests poll for what they need); `environment` is added to the
    /// test's own. `adminHost` is the address the admin API binds (tests connect to 127.0.0.1 either way).
    func launchEdge(
        node: String = "edge-a", configuration: String? = nil, brokerURL: String? = nil, extraArguments: [String] = [],
        environment: [String: String] = [:], adminHost: String = "127.0.0.1", launcher: String? = nil
    ) throws {
        var arguments = ["run", "--site", "plant-1", "--node", node, "--broker", brokerURL ?? broker.url,
                         "--data", directory.appendingPathComponent("data").path, "--admin", "\(adminHost):\(adminPort)"]
        if let configuration {
            try configuration.write(to: configurationFile, atomically: true, encoding: .utf8)
            arguments += ["--config", configurationFile.path]
        }
        edge = try ProgramProcess(
            "fogline-edge", arguments: arguments + extraArguments, environment: environment, logDirectory: directory, launcher: launcher)
    }

    /// A Prometheus sample of the running node (`name{labels}` exactly as exposed), nil when absent.
    func metric(_ sample: String) throws -> Double? {
        try HTTPTestClient.metric(port: adminPort, sample)
    }

    @discardableResult
    func stopEdge(signal: Int32) -> Int32? {
        edge?.stop(signal: signal)
    }
}

extension MosquittoProcess {
    /// The retained `desired` message this broker holds for `device` of plant-1 (nil: none).
    func retainedDesired(_ device: String) throws -> JSONValue? {
        let result = try ProgramProcess.run("/usr/bin/mosquitto_sub", [
            "-p", "\(port)", "-t", "fogline/v1/plant-1/dev/\(device)/desired", "-C", "1", "-W", "3",
        ])
        guard result.status == 0 else { return nil }
        return try? StrictJSON.parse(Array(result.output.utf8))
    }
}
