import FoglineCore
import FoglineTesting

/// A simulated site of ``SiteCoordinator``s: heartbeats and quorum messages over a
/// ``SimulatedNetwork``, crashes that keep only persisted acceptor records, clocks that drift.
/// Every 10 ms of real time it records who owns which shard and who holds which role, so tests
/// can check that no two nodes ever own the same thing and that ownership moves when nodes die
/// and return.
struct CoordinatorSite: Sendable {
    struct Node: Sendable {
        var name: String
        var rate: Double
        var clockOffset: UInt64
        var alive = true
        var incarnation: UInt64 = 0
        var persisted: [String: Acceptor.Record] = [:]
        var coordinator: SiteCoordinator
    }

    private enum Event: Sendable {
        case deliver(from: Int, to: Int, QuorumMessage)
        case heartbeat(from: Int, to: Int)
        case tick(node: Int, incarnation: UInt64)
        case sendHeartbeats(node: Int, incarnation: UInt64)
        case sample
    }

    private(set) var nodes: [Node] = []
    private var events = EventQueue<Event>()
    private(set) var now: UInt64 = 0
    private(set) var random: SeededRandom
    var network = SimulatedNetwork()
    let configuration: @Sendable (Int) -> SiteCoordinator.Configuration
    /// Violations seen while sampling: a shard or role owned by two nodes at once.
    private(set) var violations: [String] = []
    /// Decisions per node, in order, as the audit chain would record them.
    private(set) var decisions: [[String]] = []

    init(nodes count: Int, seed: UInt64, maxClockDrift: Double = 0.01, configure: @escaping @Sendable (inout SiteCoordinator.Configuration) -> Void = { _ in }) {
        random = SeededRandom(seed: seed)
        let names = (0..<count).map { "node-\($0)" }
        configuration = { index in
            var configuration = SiteCoordinator.Configuration(node: names[index], members: names)
            configuration.proposer.maxClockDrift = maxClockDrift
            configure(&configuration)
            return configuration
        }
        decisions = Array(repeating: [], count: count)
        for index in 0..<count {
            let rate = 1 + (Double(random.int(in: -1_000...1_000)) / 1_000) * maxClockDrift
            let offset = UInt64(random.int(in: 0...1_000_000))
            nodes.append(Node(
                name: names[index], rate: rate, clockOffset: offset,
                coordinator: SiteCoordinator(configuration: configuration(index), acceptorRecords: [:], incarnation: 0, at: offset)))
            events.push(.tick(node: index, incarnation: 0), at: UInt64(random.int(in: 0...50)))
            events.push(.sendHeartbeats(node: index, incarnation: 0), at: UInt64(random.int(in: 0...50)))
        }
        events.push(.sample, at: 10)
    }

    func localTime(_ node: Int) -> UInt64 {
        nodes[node].clockOffset &+ UInt64(Double(now) * nodes[node].rate)
    }

    /// The shards each live node owns now.
    func owners(ofShard shard: Int) -> [String] {
        nodes.indices.filter { nodes[$0].alive && nodes[$0].coordinator.ownedShards(at: localTime($0)).contains(shard) }.map { nodes[$0].name }
    }

    func holders(ofRole role: String) -> [String] {
        nodes.indices.filter { nodes[$0].alive && nodes[$0].coordinator.heldRoles(at: localTime($0)).contains(role) }.map { nodes[$0].name }
    }

    /// Whether every shard has exactly one owner and every role exactly one holder.
    var fullyOwned: Bool {
        let shardCount = nodes[0].coordinator.configuration.shardCount
        return (0..<shardCount).allSatisfy { owners(ofShard: $0).count == 1 }
            && nodes[0].coordinator.configuration.roles.allSatisfy { holders(ofRole: $0).count == 1 }
    }

    /// Whether every shard and role is with its preferred owner among `members` (the placement a
    /// settled site converges to).
    func placed(among members: [String]) -> Bool {
        let configuration = nodes[0].coordinator.configuration
        return (0..<configuration.shardCount).allSatisfy { owners(ofShard: $0) == [ShardPlacement.owner(shard: $0, members: members)!] }
            && configuration.roles.enumerated().allSatisfy { index, role in
                holders(ofRole: role) == [ShardPlacement.owner(shard: configuration.shardCount + index, members: members)!]
            }
    }

    /// Runs until `time` (real milliseconds).
    mutating func run(until time: UInt64) {
        while let (at, event) = events.pop() {
            guard at <= time else {
                events.push(event, at: at)
                break
            }
            now = at
            handle(event)
        }
        now = time
    }

    /// Runs until `condition` holds (checked every 10 ms) or `limit` passes; returns the time it
    /// took, or nil.
    mutating func run(within limit: UInt64, until condition: (CoordinatorSite) -> Bool) -> UInt64? {
        let start = now
        while now < start + limit {
            run(until: now + 10)
            if condition(self) { return now - start }
        }
        return nil
    }

    mutating func crash(_ node: Int) {
        nodes[node].alive = false
    }

    mutating func restart(_ node: Int) {
        guard !nodes[node].alive else { return }
        nodes[node].alive = true
        nodes[node].incarnation += 1
        nodes[node].clockOffset = UInt64(random.int(in: 0...1_000_000)) &- UInt64(Double(now) * nodes[node].rate)
        nodes[node].coordinator = SiteCoordinator(
            configuration: configuration(node), acceptorRecords: nodes[node].persisted, incarnation: nodes[node].incarnation,
            at: localTime(node))
        events.push(.tick(node: node, incarnation: nodes[node].incarnation), at: now + 1)
        events.push(.sendHeartbeats(node: node, incarnation: nodes[node].incarnation), at: now + 1)
    }

    /// Submits a client operation at `node`.
    mutating func submit(_ operation: RegisterOperation, key: String, at node: Int) -> OperationID {
        let (id, outputs) = nodes[node].coordinator.submit(operation, key: key, at: localTime(node))
        perform(outputs, at: node)
        return id
    }

    private(set) var completed: [OperationID: RegisterOutcome] = [:]

    private mutating func handle(_ event: Event) {
        switch event {
        case .deliver(let from, let to, let message):
            guard nodes[to].alive else { return }
            perform(nodes[to].coordinator.receive(message, from: nodes[from].name, at: localTime(to)), at: to)
        case .heartbeat(let from, let to):
            guard nodes[to].alive else { return }
            nodes[to].coordinator.heartbeat(from: nodes[from].name, at: localTime(to))
        case .tick(let node, let incarnation):
            guard nodes[node].alive, nodes[node].incarnation == incarnation else { return }
            perform(nodes[node].coordinator.tick(at: localTime(node)), at: node)
            events.push(.tick(node: node, incarnation: incarnation), at: now + 50)
        case .sendHeartbeats(let node, let incarnation):
            guard nodes[node].alive, nodes[node].incarnation == incarnation else { return }
            for peer in nodes.indices where peer != node {
                for delay in network.deliveries(from: node, to: peer, using: &random) {
                    events.push(.heartbeat(from: node, to: peer), at: now + delay)
                }
            }
            let interval = nodes[node].coordinator.configuration.membership.heartbeatIntervalMilliseconds
            events.push(.sendHeartbeats(node: node, incarnation: incarnation), at: now + interval)
        case .sample:
            sample()
            events.push(.sample, at: now + 10)
        }
    }

    private mutating func perform(_ outputs: [SiteCoordinator.Output], at node: Int) {
        for output in outputs {
            switch output {
            case .send(let message, let to):
                guard let target = nodes.firstIndex(where: { $0.name == to }) else { continue }
                if target == node {
                    perform(nodes[node].coordinator.receive(message, from: nodes[node].name, at: localTime(node)), at: node)
                } else {
                    for delay in network.deliveries(from: node, to: target, using: &random) {
                        events.push(.deliver(from: node, to: target, message), at: now + delay)
                    }
                }
            case .persistAcceptor(let key, let record):
                nodes[node].persisted[key] = record
            case .completed(let id, _, _, let outcome):
                completed[id] = outcome
            case .decided(let kind, let key, let detail):
                decisions[node].append("\(kind) \(key) \(detail)")
            case .ownedShardsChanged, .rolesChanged:
                break
            }
        }
    }

    private mutating func sample() {
        let configuration = nodes[0].coordinator.configuration
        for shard in 0..<configuration.shardCount {
            let owners = owners(ofShard: shard)
            if owners.count > 1 { violations.append("t=\(now): shard \(shard) owned by \(owners)") }
        }
        for role in configuration.roles {
            let holders = holders(ofRole: role)
            if holders.count > 1 { violations.append("t=\(now): role \(role) held by \(holders)") }
        }
    }
}
