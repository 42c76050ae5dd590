import FoglineCore
import FoglineTesting
import FoglineWire
import Foundation
import Testing

/// Three real `fogline-edge` nodes of one site, peered over authenticated TCP on loopback: the
/// key-value and lease APIs decide through the quorum from any node, the shards are split
/// between the nodes, a killed node's shards are taken over, and without a majority the API
/// answers 503 instead of hanging or guessing. (The exact takeover bound is checked in the
/// deterministic simulation, FoglineSiteSimulationTests.)
@Suite("fogline-edge quorum (three processes)")
final class QuorumProcessTests {
    let names = ["edge-a", "edge-b", "edge-c"]
    var nodes: [EdgeUnderTest] = []

    init() throws {
        let first = try EdgeUnderTest()
        nodes = [first, try EdgeUnderTest(sharing: first.broker), try EdgeUnderTest(sharing: first.broker)]
        let peerPorts = try names.map { _ in try MosquittoProcess.freeLoopbackPort() }
        let key = first.directory.appendingPathComponent("site.key")
        try Data((0..<32).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }).write(to: key)
        for (index, node) in nodes.enumerated() {
            var arguments = ["--listen", "127.0.0.1:\(peerPorts[index])", "--site-key-file", key.path]
            for (other, name) in names.enumerated() where other != index {
                arguments += ["--peer", "\(name)=127.0.0.1:\(peerPorts[other])"]
            }
            try node.startEdge(node: names[index], extraArguments: arguments)
        }
        try waitUntil("every node to see the others live") {
            try nodes.allSatisfy { node in
                try status(node)["quorum"]?["members"]?.arrayElements?.allSatisfy { $0["live"]?.boolValue == true } == true
            }
        }
    }

    func status(_ node: EdgeUnderTest) throws -> JSONValue {
        try StrictJSON.parse(HTTPTestClient.request(port: node.adminPort, method: "GET", path: "/v1/status").body)
    }

    func call(_ node: EdgeUnderTest, _ method: String, _ path: String, _ body: String = "") throws -> (status: Int, json: JSONValue) {
        let response = try HTTPTestClient.request(port: node.adminPort, method: method, path: path, body: Array(body.utf8))
        return (response.status, try StrictJSON.parse(response.body))
    }

    func ownedShards(_ node: EdgeUnderTest) throws -> [Int] {
        try status(node)["quorum"]?["shards"]?["owned"]?.arrayElements?.compactMap { $0.numberValue.map(Int.init) } ?? []
    }

    @Test("compare-and-set and leases decide through the quorum from any node")
    func keyValueAndLeases() throws {
        let (a, b, c) = (nodes[0], nodes[1], nodes[2])
        let created = try call(a, "POST", "/v1/kv/site/mode", #"{"expected_version":0,"value":{"mode":"auto"}}"#)
        #expect(created.status == 200 && created.json["version"]?.numberValue == 1, "\(created)")
        let stale = try call(b, "POST", "/v1/kv/site/mode", #"{"expected_version":0,"value":{"mode":"manual"}}"#)
        #expect(stale.status == 409 && stale.json["version"]?.numberValue == 1, "\(stale)")
        let read = try call(c, "GET", "/v1/kv/site/mode")
        #expect(read.status == 200 && read.json["value"]?["mode"]?.stringValue == "auto" && read.json["version"]?.numberValue == 1)
        #expect(try call(c, "GET", "/v1/kv/never/written").status == 404)
        #expect(try call(a, "POST", "/v1/kv/bad", #"{"value":1}"#).status == 400)

        let granted = try call(a, "POST", "/v1/leases/pump-room/acquire", #"{"holder":"worker-1","ttl_ms":10000}"#)
        #expect(granted.status == 200 && granted.json["holder"]?.stringValue == "worker-1", "\(granted)")
        let token = granted.json["token"]?.numberValue ?? 0
        // The validity left to the holder: positive, never more than asked (how much of it the
        // round trip used depends on the machine's load, so it is not pinned).
        #expect(token >= 1 && (1...10_000).contains(granted.json["ttl_ms"]?.numberValue ?? 0), "\(granted)")
        let held = try call(b, "POST", "/v1/leases/pump-room/acquire", #"{"holder":"worker-2","ttl_ms":10000}"#)
        #expect(held.status == 409 && held.json["holder"]?.stringValue == "worker-1", "\(held)")
        let renewed = try call(c, "POST", "/v1/leases/pump-room/renew", #"{"holder":"worker-1","token":\#(Int(token)),"ttl_ms":10000}"#)
        #expect(renewed.status == 200 && renewed.json["token"]?.numberValue == token)
        #expect(try call(b, "POST", "/v1/leases/pump-room/release", #"{"holder":"worker-2","token":\#(Int(token))}"#).status == 409)
        #expect(try call(c, "POST", "/v1/leases/pump-room/release", #"{"holder":"worker-1","token":\#(Int(token))}"#).status == 200)
        let next = try call(b, "POST", "/v1/leases/pump-room/acquire", #"{"holder":"worker-2","ttl_ms":10000}"#)
        #expect(next.status == 200 && (next.json["token"]?.numberValue ?? 0) > token, "fencing tokens only grow: \(next)")

        // The same through the command line.
        let cli = ProgramProcess.buildDirectory.appendingPathComponent("fogline-edge").path
        let address = "127.0.0.1:\(c.adminPort)"
        let get = try ProgramProcess.run(cli, ["kv", "get", "site/mode", "--admin", address])
        #expect(get.status == 0 && get.output.contains(#""mode":"auto""#), "\(get.output)")
        let cas = try ProgramProcess.run(cli, ["kv", "cas", "site/mode", "--expected-version", "1", "--value", #"{"mode":"manual"}"#, "--admin", address])
        #expect(cas.status == 0 && cas.output.contains(#""version":2"#), "\(cas.output)")
        let conflict = try ProgramProcess.run(cli, ["kv", "cas", "site/mode", "--expected-version", "1", "--value", "1", "--admin", address])
        #expect(conflict.status == 1 && conflict.output.contains(#""version":2"#), "\(conflict.output)")
        let lease = try ProgramProcess.run(cli, ["lease", "acquire", "cli-lock", "--holder", "ops \"1\"", "--ttl-ms", "5000", "--admin", address])
        #expect(lease.status == 0 && lease.output.contains(#""token":1"#), "\(lease.output)")
        let release = try ProgramProcess.run(cli, ["lease", "release", "cli-lock", "--holder", "ops \"1\"", "--token", "1", "--admin", address])
        #expect(release.status == 0, "\(release.output)")

        // Node a's decisions are in its hash-chained audit log, which verifies.
        let audit = try call(a, "GET", "/v1/audit")
        #expect(audit.json["verified"]?.boolValue == true)
        let decisions = audit.json["entries"]?.arrayElements?.compactMap { entry in
            entry["kind"]?.stringValue.flatMap { kind in entry["key"]?.stringValue.map { "\(kind) \($0)" } }
        } ?? []
        #expect(decisions.contains("kv kv/site/mode") && decisions.contains("lease.acquire lease/pump-room"), "\(decisions)")
    }

    @Test("the shards are split between the nodes, a killed node's are taken over, and a minority answers 503")
    func takeoverAndMinority() throws {
        try waitUntil("the 16 shards to be owned once each") {
            let owned = try nodes.flatMap(ownedShards)
            return owned.sorted() == Array(0..<16)
        }
        // Each node learns from its peers' heartbeats what they own and whether they trust their clocks.
        try waitUntil("every node to report its peers' shards as the peers report them") {
            let ownedByName = Dictionary(uniqueKeysWithValues: try zip(names, nodes).map { ($0, try ownedShards($1).count) })
            return try nodes.allSatisfy { node in
                let peers = try status(node)["quorum"]?["members"]?.arrayElements?.filter { $0["shards"]?.isNull == false } ?? []
                return peers.count == 2 && peers.allSatisfy { peer in
                    peer["clockTrusted"]?.boolValue == true && peer["hlcMs"]?.numberValue != nil
                        && peer["name"]?.stringValue.flatMap { ownedByName[$0] }.map(Double.init) == peer["shards"]?.numberValue
                }
            }
        }
        // Commands go through the owner of the device's shard, with its lease token as fence.
        let shard = ShardPlacement.shard(ofDevice: "valve-9", shardCount: 16)
        let owner = try nodes.firstIndex { try ownedShards($0).contains(shard) }!
        for (index, node) in nodes.enumerated() {
            let sent = try call(node, "POST", "/v1/devices/valve-9/commands", #"{"name":"open_valve","args":{}}"#)
            if index == owner {
                #expect(sent.status == 202 && (sent.json["fence"]?.numberValue ?? 0) >= 1, "\(sent)")
            } else {
                #expect(sent.status == 409, "a node that does not own the shard must refuse: \(sent)")
            }
        }

        let victim = owner
        nodes[victim].stopEdge(signal: SIGKILL)
        let survivors = nodes.indices.filter { $0 != victim }.map { nodes[$0] }
        try waitUntil("the survivors to own every shard", seconds: 10) {
            try survivors.flatMap(ownedShards).sorted() == Array(0..<16)
        }
        #expect(try call(survivors[0], "POST", "/v1/kv/after-failover", #"{"expected_version":0,"value":true}"#).status == 200)

        // Two of three down: the last node must refuse (503 within its operation timeout; the
        // test client gives up after 10 s, so a hang fails the test), not guess.
        survivors[1].stopEdge(signal: SIGKILL)
        let refused = try call(survivors[0], "POST", "/v1/kv/after-failover", #"{"expected_version":1,"value":false}"#)
        #expect(refused.status == 503, "\(refused)")
        #expect(try call(survivors[0], "GET", "/v1/kv/after-failover").status == 503, "reads need a quorum too")
    }

    @Test("site gossip: a device's birth taken by its owner and a desired edit made on another node reach every node")
    func gossipConverges() throws {
        try waitUntil("the 16 shards to be owned once each") { try nodes.flatMap(ownedShards).sorted() == Array(0..<16) }
        let result = try ProgramProcess.run("/usr/bin/mosquitto_pub", [
            "-p", "\(nodes[0].broker.port)", "-q", "1", "-t", "fogline/v1/plant-1/dev/th-9/birth", "-m", #"{"profile":"thermostat","fw":"2.1"}"#,
        ])
        #expect(result.status == 0, "mosquitto_pub: \(result.output)")
        let edit = try call(nodes[2], "PUT", "/v1/devices/th-9/desired", #"{"fields":{"setpoint":23.5}}"#)
        #expect(edit.status == 200, "\(edit)")
        try waitUntil("every node to show the owner's registry entry and node c's desired edit", seconds: 30) {
            nodes.allSatisfy { node in
                let device = try? call(node, "GET", "/v1/devices/th-9")
                return device?.status == 200 && device?.json["profile"]?.stringValue == "thermostat"
                    && device?.json["desired"]?["setpoint"]?.numberValue == 23.5
            }
        }
        let merged = try nodes.map { try status($0)["gossip"]?["deltasMerged"]?.numberValue ?? 0 }
        #expect(merged.allSatisfy { $0 > 0 }, "every node merged deltas from its peers: \(merged)")
    }

    @Test("a killed node's devices are served by another node")
    func devicesFailOver() throws {
        try waitUntil("the 16 shards to be owned once each") { try nodes.flatMap(ownedShards).sorted() == Array(0..<16) }
        let sim = try SimulatorProcess(
            broker: nodes[0].broker, directory: nodes[0].directory,
            arguments: SimulatorProcess.profiles("thermostat") + ["--count", "12", "--rate", "4", "--duration", "40", "--seed", "5"])
        defer { _ = try? sim.finish(stop: true) }
        func received(_ node: EdgeUnderTest) throws -> [String: Double] {
            var counts: [String: Double] = [:]
            for (id, device) in try AdminClient(port: node.adminPort).devices() {
                counts[id] = device["telemetry"]?["received"]?.numberValue ?? 0
            }
            return counts
        }
        // Each device's readings arrive at the node owning its shard, and only there.
        let devices = (1...12).map { String(format: "thermostat-%04d", $0) }
        func owner(of device: String) throws -> Int? {
            let shard = ShardPlacement.shard(ofDevice: device, shardCount: 16)
            return try nodes.indices.first { try ownedShards(nodes[$0]).contains(shard) }
        }
        try waitUntil("every device's readings at its owner", seconds: 30) {
            try devices.allSatisfy { device in try owner(of: device).map { try received(nodes[$0])[device, default: 0] > 0 } ?? false }
        }
        let victim = try #require(try owner(of: devices[0]))
        let orphans = try devices.filter { try owner(of: $0) == victim }
        nodes[victim].stopEdge(signal: SIGKILL)
        let survivors = nodes.indices.filter { $0 != victim }
        let before = try survivors.map { try received(nodes[$0]) }
        try waitUntil("another node to serve the killed node's devices", seconds: 15) {
            try orphans.allSatisfy { device in
                try survivors.enumerated().contains { index, node in
                    try received(nodes[node])[device, default: 0] > before[index][device, default: 0] + 2
                }
            }
        }
    }
}
