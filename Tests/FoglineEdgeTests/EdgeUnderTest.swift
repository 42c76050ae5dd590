import FoglineTesting
import Foundation

/// A real broker and a real `fogline-edge` process for integration tests, each in its own
/// temporary directory, on free loopback ports; everything is stopped and removed in deinit.
final class EdgeUnderTest {
    let broker: MosquittoProcess
    let directory: URL
    let adminPort: Int
    private(set) var edge: ProgramProcess?

    init() throws {
        broker = try MosquittoProcess()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fogline-edge-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        adminPort = try MosquittoProcess.freeLoopbackPort()
    }

    deinit {
        edge?.stop(signal: SIGKILL)
        try? FileManager.default.removeItem(at: directory)
    }

    var databasePath: String { directory.appendingPathComponent("data/edge.sqlite").path }

    /// Starts (or restarts) node edge-a of site plant-1 and waits until it reports healthy.
    func startEdge() throws {
        edge = try ProgramProcess(
            "fogline-edge",
            arguments: ["run", "--site", "plant-1", "--node", "edge-a", "--broker", broker.url,
                        "--data", directory.appendingPathComponent("data").path, "--admin", "127.0.0.1:\(adminPort)"],
            logDirectory: directory)
        try waitUntil("the edge's /healthz to report ok") {
            try HTTPTestClient.request(port: adminPort, method: "GET", path: "/healthz").status == 200
        }
    }

    @discardableResult
    func stopEdge(signal: Int32) -> Int32? {
        edge?.stop(signal: signal)
    }
}
