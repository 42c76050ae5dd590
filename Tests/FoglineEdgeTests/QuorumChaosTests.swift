import FoglineCore
import FoglineTesting
import FoglineWire
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The quorum's guarantees checked on real processes under real faults (issue 4, "Real
/// processes"): Mosquitto and three peered `fogline-edge` nodes on loopback, every directed peer
/// link through a `FaultProxy`, concurrent clients doing reads, compare-and-set and lease
/// acquire/release through random nodes' admin APIs while the test kills (-9) and restarts a
/// node, stops one (SIGSTOP) for longer than the lease TTL, isolates one, and cuts links one way.
/// Then: every key's history is linearizable, no two clients' lease validity windows overlap,
/// fencing tokens only grow. It prints `N ops, K faults, A anomalies`.
///
/// `FOGLINE_CHAOS_SECONDS` sets how long the clients run (default 32); `scripts/chaos` runs it
/// longer. `FOGLINE_CHAOS_KEEP=DIR` keeps the node logs and the history there even on success.
///
/// Waits poll with deadlines; the fixed durations are how long a fault lasts (`faultSeconds`)
/// and the calm between faults (`calmSeconds`).
@Suite("fogline-edge quorum under faults (three processes, proxies, kill/stop/partitions)")
final class QuorumChaosTests {
    let names = ["edge-a", "edge-b", "edge-c"]
    var nodes: [EdgeUnderTest] = []
    var arguments: [[String]] = []
    /// `proxies[x][y]`: the link from node x to node y (in front of y's peer listener); nil for x == y.
    var proxies: [[FaultProxy?]] = []

    static let leaseTTLMilliseconds: UInt64 = 1_000
    /// How long a kill, stop or partition lasts (fixed on purpose: it is the fault, not a wait).
    static let faultSeconds = 2.0
    /// Normal operation between faults (fixed on purpose).
    static let calmSeconds = 0.5

    init() throws {
        // A node killed mid-request must not kill the test process with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        let first = try EdgeUnderTest()
        nodes = [first, try EdgeUnderTest(sharing: first.broker), try EdgeUnderTest(sharing: first.broker)]
        let peerPorts = try names.map { _ in try MosquittoProcess.freeLoopbackPort() }
        proxies = try names.indices.map { from in
            try names.indices.map { to in
                from == to ? nil : try FaultProxy(name: "\(names[from])→\(names[to])", targetPort: peerPorts[to])
            }
        }
        let key = first.directory.appendingPathComponent("site.key")
        try Data((0..<32).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }).write(to: key)
        for (index, node) in nodes.enumerated() {
            var nodeArguments = ["--listen", "127.0.0.1:\(peerPorts[index])", "--site-key-file", key.path]
            for (other, name) in names.enumerated() where other != index {
                nodeArguments += ["--peer", "\(name)=127.0.0.1:\(proxies[index][other]!.port)"]
            }
            arguments.append(nodeArguments)
            try node.startEdge(node: names[index], extraArguments: nodeArguments)
        }
        // Generous: on a loaded machine (make test runs suites in parallel) peering can be slow.
        try waitForAllLive(seconds: 60)
    }

    deinit {
        for node in nodes { node.stopEdge(signal: SIGKILL) }
        proxies.joined().forEach { $0?.stop() }
    }

    func waitForAllLive(seconds: Double = 20) throws {
        try waitUntil("every node to see the others live", seconds: seconds) {
            try nodes.allSatisfy { node in
                let status = try StrictJSON.parse(ChaosHTTP.request(port: node.adminPort, method: "GET", path: "/v1/status", timeoutSeconds: 5).body)
                return status["quorum"]?["members"]?.arrayElements?.allSatisfy { $0["live"]?.boolValue == true } == true
            }
        }
    }

    static var loadSeconds: Double {
        ProcessInfo.processInfo.environment["FOGLINE_CHAOS_SECONDS"].flatMap(Double.init) ?? 32
    }

    @Test("linearizable kv and leases, no overlapping leases, growing fencing tokens under kill -9, SIGSTOP and partitions")
    func chaos() throws {
        let started = Date()
        let recorder = ChaosRecorder()
        let ports = nodes.map(\.adminPort)
        let clientCount = 5
        let loadSeconds = Self.loadSeconds
        let stopAt = recorder.now + UInt64(loadSeconds * 1_000_000)
        let finished = DispatchGroup()
        for client in 0..<clientCount {
            finished.enter()
            let thread = Thread {
                ChaosClient(id: client, ports: ports, recorder: recorder, leaseTTLMilliseconds: Self.leaseTTLMilliseconds).run(until: stopAt)
                finished.leave()
            }
            thread.name = "chaos client \(client)"
            thread.start()
        }

        // Faults, one at a time, each on a random node, cycling through the kinds in this order
        // (the default run gets through all six); after each, the links heal and the test waits
        // until every node sees the others again.
        var random = SystemRandomNumberGenerator()
        var faultCount = 0
        var recoveryProblems: [String] = []
        let kinds = ["kill", "stop", "isolate", "mute", "deafen", "link"]
        // Leave room after the last fault for the clients to run on a healed site.
        let lastFaultStart = stopAt - UInt64(min(6, loadSeconds / 4) * 1_000_000)
        var kindIndex = 0
        while recorder.now < lastFaultStart {
            sleepSeconds(Self.calmSeconds)
            guard recorder.now < lastFaultStart else { break }
            let victim = Int.random(in: 0..<nodes.count, using: &random)
            let kind = kinds[kindIndex % kinds.count]
            kindIndex += 1
            faultCount += 1
            do {
                try inject(kind, on: victim, random: &random, recorder: recorder)
                try waitForAllLive(seconds: 30)
            } catch {
                recoveryProblems.append("after \(kind) of \(names[victim]): \(error)")
                break
            }
        }
        finished.wait()

        // Once healed, every node must answer again (a majority makes progress).
        for (index, node) in nodes.enumerated() {
            do {
                try waitUntil("\(names[index]) to serve a quorum read", seconds: 15) {
                    try ChaosHTTP.request(port: node.adminPort, method: "GET", path: "/v1/kv/k0", timeoutSeconds: 5).status != 503
                }
            } catch {
                recoveryProblems.append("\(names[index]) does not serve reads after the faults healed: \(error)")
            }
        }

        let tally = recorder.tally
        let (anomalies, unchecked) = recorder.anomalies()
        // Anomalies are safety violations; a site that does not recover fails the test too, but
        // is reported apart (it is liveness, and a loaded machine can slow it).
        let anomalyCount = anomalies.count
        let elapsed = Date().timeIntervalSince(started)
        let summary = "\(tally.operations) ops, \(faultCount) faults, \(anomalyCount) anomalies"
        print("quorum chaos: \(summary) (\(tally); \(clientCount) clients for \(Int(loadSeconds)) s, \(String(format: "%.1f", elapsed)) s in all)")
        print(summary)
        if !unchecked.isEmpty { print("quorum chaos: search budget exhausted (not checked) for \(unchecked)") }
        for problem in recoveryProblems { print("quorum chaos: did not recover: \(problem)") }

        let keep = ProcessInfo.processInfo.environment["FOGLINE_CHAOS_KEEP"]
        if anomalyCount > 0 || !recoveryProblems.isEmpty || keep != nil {
            let directory = keep.map { URL(fileURLWithPath: $0) }
                ?? FileManager.default.temporaryDirectory.appendingPathComponent("fogline-chaos-\(Int(Date().timeIntervalSince1970))")
            saveEvidence(to: directory, recorder: recorder)
            print("quorum chaos: history and node logs in \(directory.path)")
        }
        for anomaly in anomalies {
            Issue.record("\(anomaly.what)\n\(recorder.excerpt(key: anomaly.key, from: anomaly.from, to: anomaly.to))")
        }
        for problem in recoveryProblems { Issue.record(Comment(rawValue: problem)) }
        #expect(tally.answered > 100, "the clients got few answers: \(tally)")
    }

    // MARK: Faults

    func inject(_ kind: String, on victim: Int, random: inout SystemRandomNumberGenerator, recorder: ChaosRecorder) throws {
        let name = names[victim]
        let others = nodes.indices.filter { $0 != victim }
        switch kind {
        case "kill":
            let fault = recorder.beginFault("kill -9 \(name), restart after \(Self.faultSeconds) s")
            nodes[victim].stopEdge(signal: SIGKILL)
            sleepSeconds(Self.faultSeconds)
            try nodes[victim].startEdge(node: name, extraArguments: arguments[victim])
            recorder.endFault(fault)
        case "stop":
            let pid = nodes[victim].edge!.process.pid
            let fault = recorder.beginFault("SIGSTOP \(name) for \(Self.faultSeconds) s")
            kill(pid, SIGSTOP)
            sleepSeconds(Self.faultSeconds)
            kill(pid, SIGCONT)
            recorder.endFault(fault)
        case "isolate":
            // Blackholed both ways: connections hang, nothing gets through.
            let links = others.flatMap { [proxies[victim][$0]!, proxies[$0][victim]!] }
            partition(links, .drop, "isolate \(name) (blackhole both ways)", recorder)
        case "mute":
            // One way: the victim's outbound links are cut (connections closed, reconnects
            // refused); it still hears the others.
            partition(others.map { proxies[victim][$0]! }, .cut, "\(name) cannot send (outbound links cut)", recorder)
        case "deafen":
            // One way: nothing reaches the victim (blackholed); it still reaches the others.
            partition(others.map { proxies[$0][victim]! }, .drop, "\(name) cannot receive (inbound links blackholed)", recorder)
        default:
            // A single directed link, cut or blackholed.
            let to = others[Int.random(in: 0..<others.count, using: &random)]
            let mode: FaultProxy.Mode = Bool.random(using: &random) ? .cut : .drop
            partition([proxies[victim][to]!], mode, "link \(name)→\(names[to]) \(mode)", recorder)
        }
    }

    func partition(_ links: [FaultProxy], _ mode: FaultProxy.Mode, _ what: String, _ recorder: ChaosRecorder) {
        let fault = recorder.beginFault("\(what) for \(Self.faultSeconds) s")
        links.forEach { $0.mode = mode }
        sleepSeconds(Self.faultSeconds)
        links.forEach { $0.mode = .pass }
        recorder.endFault(fault)
    }

    func sleepSeconds(_ seconds: Double) {
        usleep(useconds_t(seconds * 1_000_000))
    }

    func saveEvidence(to directory: URL, recorder: ChaosRecorder) {
        let manager = FileManager.default
        try? manager.createDirectory(at: directory, withIntermediateDirectories: true)
        try? recorder.dump().write(to: directory.appendingPathComponent("history.txt"), atomically: true, encoding: .utf8)
        for (index, node) in nodes.enumerated() {
            let logs = (try? manager.contentsOfDirectory(atPath: node.directory.path))?.filter { $0.hasSuffix(".log") } ?? []
            for log in logs {
                try? manager.copyItem(
                    at: node.directory.appendingPathComponent(log), to: directory.appendingPathComponent("\(names[index])-\(log)"))
            }
        }
    }
}
