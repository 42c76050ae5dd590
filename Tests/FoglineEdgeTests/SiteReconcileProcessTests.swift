import FoglineCore
import FoglineTesting
import FoglineWire
import Foundation
import Testing

/// The whole system under faults, with real processes: a site broker, three peered `fogline-edge`
/// nodes, 200 simulated devices, a cloud broker and the aggregator. The cloud broker is stopped
/// for a while (the site keeps ingesting), `desired` is edited in the cloud and at the edge for the
/// same devices meanwhile, the uplink holder is killed once (and comes back), then the broker
/// returns. Within a bounded time the aggregator's view equals every edge's view, telemetry
/// `received` equals what the simulator published, nothing counts twice, and both sides pick the
/// same `desired` winner: the edit with the later HLC. On PostgreSQL two aggregators share the
/// database and the broker's shared subscription, and one of them is killed mid-sync.
@Suite("Site ↔ cloud reconciliation under faults (real processes)", .serialized)
struct SiteReconcileProcessTests {
    enum Backend: String, CustomStringConvertible, CaseIterable {
        case sqlite, postgres
        var description: String { rawValue }

        static var available: [Backend] {
            ProcessInfo.processInfo.environment["FOGLINE_TEST_POSTGRES_URL"].map { $0.isEmpty ? [.sqlite] : allCases } ?? [.sqlite]
        }
    }

    static let profiles = ["thermostat", "power_meter", "air_quality", "valve"]  // all answer `replay`
    static let perProfile = 50

    @Test("outage, edits on both sides, the uplink holder killed: both sides end equal, nothing lost or counted twice",
          .timeLimit(.minutes(8)), arguments: Backend.available)
    func reconcileUnderFaults(backend: Backend) async throws {
        // Async, polling with Task.sleep: a test that blocks for minutes holds one of the two
        // cooperative threads and starves the async tests running beside it.
        let site = try ReconcilingSite(backend: backend)
        try await site.start()

        let sim = try SimulatorProcess(
            broker: site.siteBroker, directory: site.directory,
            arguments: SimulatorProcess.profiles(Self.profiles[0], Self.profiles[1], Self.profiles[2], Self.profiles[3])
                + ["--count", "\(Self.perProfile)", "--rate", "1", "--duration", "70", "--seed", "2026"])
        defer { _ = try? sim.finish(stop: true) }
        let deviceCount = Self.profiles.count * Self.perProfile
        try await pollUntil("the aggregator to hold readings of all \(deviceCount) devices", seconds: 60) {
            try site.cloudDeviceIDs().count == deviceCount
        }

        // The uplink's broker goes away; the site keeps ingesting and both sides edit the same devices.
        site.cloudBroker.stop()
        let cloudLast = try site.editBothSides(device: "thermostat-0001", edgeValue: 11, cloudValue: 31, cloudFirst: false)
        let edgeLast = try site.editBothSides(device: "thermostat-0002", edgeValue: 12, cloudValue: 32, cloudFirst: true)

        // Kill the uplink holder; another node takes the role and the killed node's devices.
        let holder = try await site.uplinkHolder()
        let survivors = site.nodes.indices.filter { $0 != holder }
        let storedBefore = try site.readingsStored(by: survivors)
        site.nodes[holder].stopEdge(signal: SIGKILL)
        try await pollUntil("a surviving node to hold cloud-uplink", seconds: 30) { try site.uplinkHolder(among: survivors) != nil }
        try await pollUntil("the survivors to own every shard", seconds: 30) {
            try survivors.flatMap { try site.ownedShards(site.nodes[$0]) }.sorted() == Array(0..<16)
        }
        try await pollUntil("the site to keep ingesting without the killed node", seconds: 60) {
            try site.readingsStored(by: survivors) > storedBefore + 400
        }
        try await site.startNode(holder)
        try site.cloudBroker.start()
        if backend == .postgres {
            // Mid-sync: as soon as the first instance merges a batch of the backlog, kill it.
            let merged = try site.cloudMetric("fogline_cloud_merges_total", instance: 0) ?? 0
            try await pollUntil("the first aggregator to merge part of the backlog", seconds: 60) {
                (try site.cloudMetric("fogline_cloud_merges_total", instance: 0) ?? 0) > merged
            }
            site.killCloudInstance(0)
        }

        try await pollUntil("the simulator's run to end", seconds: 150) { !sim.program.process.isRunning }
        let (status, report) = try sim.finish()
        #expect(status == 0, "fogline-sim failed:\n\(sim.log.suffix(3_000))")
        let published = try #require(report?.devices, "no simulator report:\n\(sim.log.suffix(3_000))")
        #expect(published.count == deviceCount)

        // Telemetry: the aggregator holds every reading the simulator published, once.
        var mismatches: [String] = []
        do {
            try await pollUntil("the aggregator to hold every published reading", seconds: 150) {
                mismatches = try published.sorted { $0.key < $1.key }.compactMap { id, device in
                    let telemetry = try site.cloudDevice(id)?["telemetry"]
                    // A reading a device sent twice (a replay one node asked for, reaching
                    // another that already had it) is a duplicate delivery: counted as such,
                    // never as a second reading.
                    let matches = telemetry?["received"]?.numberValue == device.published
                        && telemetry?["lastSeq"]?.numberValue == device.lastSeq
                        && (telemetry?["duplicates"]?.numberValue ?? .infinity) <= device.replayed
                    return matches ? nil : "\(id): published \(device.published) lastSeq \(device.lastSeq ?? -1) replayed \(device.replayed), aggregator \(telemetry.map { "\($0)" } ?? "nothing")"
                }
                return mismatches.isEmpty
            }
        } catch {
            let first = mismatches.first.flatMap { $0.split(separator: ":").first.map(String.init) } ?? ""
            Issue.record(
                "\(mismatches.count) devices differ, e.g.\n\(mismatches.prefix(6).joined(separator: "\n"))\n\(site.whereReadingsAre(of: first))\n\(site.logs)")
            throw error
        }

        // Views: every edge shows exactly what the aggregator shows.
        var differences: [String] = []
        do {
            try await pollUntil("every edge's view of every device to equal the aggregator's", seconds: 90) {
                differences = []
                for id in published.keys.sorted() {
                    guard let cloud = try site.cloudDevice(id) else { differences.append("\(id): not at the aggregator"); continue }
                    for (index, node) in site.nodes.enumerated() {
                        guard let edge = try AdminClient(port: node.adminPort).get("/v1/devices/\(id)") else {
                            differences.append("\(id): not at node \(index)"); continue
                        }
                        differences += ReconcilingSite.differences(edge: edge, cloud: cloud).map { "\(id) at node \(index): \($0)" }
                    }
                    if differences.count > 20 { break }
                }
                return differences.isEmpty
            }
        } catch {
            Issue.record("views differ:\n\(differences.prefix(12).joined(separator: "\n"))\n\(site.logs)")
            throw error
        }

        // Desired: the later edit won on both sides and reached the device, retained.
        for (device, winner) in [("thermostat-0001", cloudLast), ("thermostat-0002", edgeLast)] {
            let cloud = try #require(try site.cloudDevice(device))
            #expect(cloud["desired"]?["setpoint"]?.numberValue == winner.value, "\(device): \(cloud["desired"].map { "\($0)" } ?? "-")")
            #expect(cloud["hlc"]?["desired"]?["setpoint"]?.stringValue == winner.stamp.description)
            try await pollUntil("\(device)'s retained desired to carry the winner", seconds: 20) {
                try site.retainedDesired(device)?["fields"]?["setpoint"]?.numberValue == winner.value
            }
        }
        // A node ships its own audit chain while it holds the uplink: the current holder's is
        // there (a node that never held it, or was killed before shipping, keeps its chain at the
        // edge, GET /v1/audit), and every chain the aggregator has verifies.
        var chains: [JSONValue] = []
        var holderName = ""
        try await pollUntil("the uplink holder's audit chain to reach the aggregator", seconds: 60) {
            holderName = site.names[try await site.uplinkHolder()]
            chains = try site.cloudJSON("/v1/sites/plant-1/audit")?["nodes"]?.arrayElements ?? []
            return chains.contains { $0["node"]?.stringValue == holderName }
        }
        #expect(chains.allSatisfy { $0["verified"]?.boolValue == true },
                "holder \(holderName); \(chains.map { "\($0["node"] ?? .null): verified \($0["verified"] ?? .null)" })")
    }
}

/// The processes of ``SiteReconcileProcessTests`` and the calls it makes on them.
final class ReconcilingSite {
    let backend: SiteReconcileProcessTests.Backend
    let nodes: [EdgeUnderTest]
    let names = ["edge-a", "edge-b", "edge-c"]
    let cloudBroker: MosquittoProcess
    let cloudPorts: [Int]
    private var clouds: [ProgramProcess?] = []
    private let peerPorts: [Int]

    var siteBroker: MosquittoProcess { nodes[0].broker }
    var directory: URL { nodes[0].directory }

    init(backend: SiteReconcileProcessTests.Backend) throws {
        self.backend = backend
        let first = try EdgeUnderTest()
        nodes = [first, try EdgeUnderTest(sharing: first.broker), try EdgeUnderTest(sharing: first.broker)]
        cloudBroker = try MosquittoProcess()
        cloudPorts = try (0..<(backend == .postgres ? 2 : 1)).map { _ in try MosquittoProcess.freeLoopbackPort() }
        peerPorts = try names.map { _ in try MosquittoProcess.freeLoopbackPort() }
    }

    deinit {
        for cloud in clouds { cloud?.stop(signal: SIGKILL) }
    }

    /// Keys, the aggregator(s), then the three nodes; returns once the quorum owns every shard.
    func start() async throws {
        try Data((0..<32).map { UInt8(truncatingIfNeeded: $0 &* 53 &+ 7) }).write(to: directory.appendingPathComponent("site.key"))
        var trusted = ""
        let keygen = ProgramProcess.buildDirectory.appendingPathComponent("fogline-edge").path
        for name in names {
            let result = try ProgramProcess.run(keygen, ["keygen", "--out", directory.appendingPathComponent("\(name).key").path])
            try #require(result.status == 0, "keygen: \(result.output)")
            trusted += "      \(name): \(result.output.trimmingCharacters(in: .whitespacesAndNewlines))\n"
        }
        let database: String
        var schema = ""
        switch backend {
        case .sqlite:
            database = "sqlite:\(directory.appendingPathComponent("cloud.sqlite").path)"
        case .postgres:
            database = try #require(ProcessInfo.processInfo.environment["FOGLINE_TEST_POSTGRES_URL"])
            schema = "postgres_schema: reconcile_\(UUID().uuidString.prefix(8).lowercased())\n"
        }
        for (index, port) in cloudPorts.enumerated() {
            let config = directory.appendingPathComponent("cloud-\(index).yaml")
            try "instance: agg-\(index)\n\(schema)sites:\n  plant-1:\n    nodes:\n\(trusted)".write(to: config, atomically: true, encoding: .utf8)
            // A PostgreSQL URL carries its password, which `--db` refuses: it goes in the environment.
            let cloud = try ProgramProcess(
                "fogline-cloud",
                arguments: ["serve", "--config", config.path, "--broker", cloudBroker.url, "--http", "127.0.0.1:\(port)"]
                    + (backend == .postgres ? [] : ["--db", database]),
                environment: backend == .postgres ? ["FOGLINE_DATABASE_URL": database] : [:], logDirectory: directory)
            clouds.append(cloud)
            try await pollUntil("aggregator \(index)'s /healthz") {
                (try? HTTPTestClient.request(port: port, method: "GET", path: "/healthz").status) == 200
            }
        }
        for index in nodes.indices { try await startNode(index) }
        try await pollUntil("the 16 shards to be owned once each", seconds: 30) { try nodes.flatMap(ownedShards).sorted() == Array(0..<16) }
    }

    /// Starts (or restarts, on its data) node `index`: peered with the others, uplink configured.
    func startNode(_ index: Int) async throws {
        var arguments = ["--listen", "127.0.0.1:\(peerPorts[index])", "--site-key-file", directory.appendingPathComponent("site.key").path]
        for (other, name) in names.enumerated() where other != index { arguments += ["--peer", "\(name)=127.0.0.1:\(peerPorts[other])"] }
        let node = nodes[index]
        try node.launchEdge(
            node: names[index],
            configuration: """
                cloud:
                  broker: {url: "\(cloudBroker.url)"}
                  signing_key_file: \(directory.appendingPathComponent("\(names[index]).key").path)
                  hello_interval_s: 2
                """,
            extraArguments: arguments)
        try await pollUntil("\(names[index])'s /healthz to report ok\n\(node.log.suffix(2_000))") {
            try await requestOffPool(port: node.adminPort, "GET", "/healthz").status == 200
        }
    }

    func killCloudInstance(_ index: Int) {
        clouds[index]?.stop(signal: SIGKILL)
        clouds[index] = nil
    }

    /// The port of a running aggregator (the last one started that is still alive).
    var cloudPort: Int { cloudPorts[clouds.lastIndex { $0 != nil } ?? 0] }

    // MARK: Reads

    func status(_ node: EdgeUnderTest) throws -> JSONValue? { try AdminClient(port: node.adminPort).get("/v1/status") }

    func ownedShards(_ node: EdgeUnderTest) throws -> [Int] {
        try status(node)?["quorum"]?["shards"]?["owned"]?.arrayElements?.compactMap { $0.numberValue.map(Int.init) } ?? []
    }

    /// The node holding `cloud-uplink` among `candidates` (all nodes by default).
    func uplinkHolder(among candidates: [Int]? = nil) throws -> Int? {
        try (candidates ?? Array(nodes.indices)).first { index in
            try status(nodes[index])?["quorum"]?["roles"]?.arrayElements?.contains(.string("cloud-uplink")) == true
        }
    }

    func uplinkHolder() async throws -> Int {
        var holder: Int?
        try await pollUntil("a node to hold cloud-uplink") {
            holder = try uplinkHolder(among: nil)
            return holder != nil
        }
        return holder!
    }

    /// Readings the given nodes have stored since they started (their own ingest).
    func readingsStored(by indices: [Int]) throws -> Double {
        try indices.reduce(0) { sum, index in sum + (try status(nodes[index])?["telemetry"]?["stored"]?.numberValue ?? 0) }
    }

    func cloudJSON(_ path: String, port: Int? = nil) throws -> JSONValue? {
        let response = try HTTPTestClient.request(port: port ?? cloudPort, method: "GET", path: path)
        guard response.status == 200 else { return nil }
        return try StrictJSON.parse(response.body, limits: .init(maxBytes: 64 << 20, maxDepth: 32))
    }

    func cloudDevice(_ id: String) throws -> JSONValue? { try cloudJSON("/v1/sites/plant-1/devices/\(id)") }

    func cloudDeviceIDs() throws -> [String] {
        try cloudJSON("/v1/sites/plant-1/devices")?.arrayElements?.compactMap { $0["id"]?.stringValue } ?? []
    }

    func cloudMetric(_ name: String, instance: Int) throws -> Double? {
        try HTTPTestClient.metric(port: cloudPorts[instance], name)
    }

    /// The retained `desired` message the site broker holds for `device`.
    func retainedDesired(_ device: String) throws -> JSONValue? { try siteBroker.retainedDesired(device) }

    // MARK: Writes

    /// Sets `setpoint` of `device` at the edge (node 0) and in the cloud, in the order given, and
    /// returns the value and HLC stamp of the later write: the one both sides must keep.
    func editBothSides(device: String, edgeValue: Double, cloudValue: Double, cloudFirst: Bool) throws -> (value: Double, stamp: HLCTimestamp) {
        func edge() throws -> (Double, HLCTimestamp) {
            let response = try HTTPTestClient.request(
                port: nodes[0].adminPort, method: "PUT", path: "/v1/devices/\(device)/desired",
                body: Array(#"{"fields":{"setpoint":\#(edgeValue)}}"#.utf8))
            try #require(response.status == 200, "edge edit: \(response.text)")
            let stamp = try StrictJSON.parse(response.body)["hlc"]?["desired"]?["setpoint"]?.stringValue.flatMap(HLCTimestamp.init)
            return (edgeValue, try #require(stamp, "edge edit: \(response.text)"))
        }
        func cloud() throws -> (Double, HLCTimestamp) {
            let response = try HTTPTestClient.request(
                port: cloudPort, method: "PUT", path: "/v1/sites/plant-1/devices/\(device)/desired",
                body: Array(#"{"fields":{"setpoint":\#(cloudValue)}}"#.utf8))
            try #require(response.status == 200, "cloud edit: \(response.text)")
            let stamp = try StrictJSON.parse(response.body)["hlc"]?["setpoint"]?.stringValue.flatMap(HLCTimestamp.init)
            return (cloudValue, try #require(stamp, "cloud edit: \(response.text)"))
        }
        let (first, second) = cloudFirst ? (try cloud(), try edge()) : (try edge(), try cloud())
        // LWW per field by HLC: the greater stamp wins, whichever side wrote it.
        return first.1 < second.1 ? second : first
    }

    // MARK: Comparing views

    /// Where an edge's `GET /v1/devices/{id}` and the aggregator's disagree on the replicated
    /// state: profile, presence, twins and their stamps, and the site-wide telemetry stats.
    static func differences(edge: JSONValue, cloud: JSONValue) -> [String] {
        var found: [String] = []
        func compare(_ what: String, _ lhs: JSONValue?, _ rhs: JSONValue?) {
            if lhs != rhs { found.append("\(what): edge \(lhs.map { "\($0)" } ?? "-") vs aggregator \(rhs.map { "\($0)" } ?? "-")") }
        }
        compare("profile", edge["profile"], cloud["profile"])
        compare("online", edge["online"], cloud["presence"]?["online"])
        compare("registry", edge["registry"], cloud["registry"])
        compare("reported", edge["reported"], cloud["reported"])
        compare("desired", edge["desired"], cloud["desired"])
        compare("hlc", edge["hlc"], cloud["hlc"])
        compare("telemetry", edge["siteTelemetry"], cloud["telemetry"])
        return found
    }

    /// Where `device`'s readings are: each node's view of the site's readings, its uplink and
    /// replica dots, and the aggregator's dots; for a failure message.
    func whereReadingsAre(of device: String) -> String {
        var lines: [String] = []
        for (index, node) in nodes.enumerated() {
            let edge = try? AdminClient(port: node.adminPort).get("/v1/devices/\(device)")
            let status = try? self.status(node)
            lines.append("node \(index) \(names[index]): siteTelemetry \(edge?["siteTelemetry"].map { "\($0)" } ?? "-"), "
                + "replica \(status?["replica"].map { "\($0)" } ?? "-"), uplink \(status?["uplink"].map { "\($0)" } ?? "-")")
        }
        let site = try? cloudJSON("/v1/sites/plant-1")
        lines.append("aggregator: replica \(site?["replica"].map { "\($0)" } ?? "-")")
        return lines.joined(separator: "\n")
    }

    var logs: String {
        let edges = nodes.enumerated().map { "node \($0.offset):\n\($0.element.log.suffix(2_000))" }.joined(separator: "\n")
        let aggregators = clouds.compactMap { $0?.log.suffix(2_000) }.joined(separator: "\n")
        return "\(edges)\naggregator:\n\(aggregators)"
    }
}
