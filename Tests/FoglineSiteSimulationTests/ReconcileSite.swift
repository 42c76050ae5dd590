import FoglineCore
import FoglineTesting
import FoglineWire

/// A site's edge nodes and the cloud aggregator reconciling their state through
/// ``ReconcileSession``s: every pair of edge nodes gossips over its peer link, and the node that
/// holds the uplink syncs with the cloud. Writes happen on every node and in the cloud
/// (`desired` edits) while links drop, duplicate, delay and reorder messages, partitions come and
/// go, the uplink is cut and restored, its holder changes, and nodes crash (keeping their durable
/// state, losing their sessions and whatever was on the wire). Batches travel encoded, through
/// ``SiteDeltaCodec``, as they do on the wire.
///
/// Every write is durable when made and merges are durable before they are acknowledged, so
/// after healing every replica must equal the join of every write ever made, and each counter the
/// sum of the amounts added to it: nothing lost, nothing counted twice.
struct ReconcileSite {
    enum Message: Sendable {
        case hello(ReplicaSummary, wantsReply: Bool)
        case batch(id: UInt64, base: CausalContext, [UInt8])
        case ack(id: UInt64, merged: Bool, ReplicaSummary)
    }

    enum Event: Sendable {
        case deliver(from: Int, to: Int, generation: UInt64, Message)
        case tick
    }

    struct Replica {
        var name: String
        var writer: RandomSiteWriter
        var up = true
        /// A session per other endpoint it is linked with (edge index, or ``ReconcileSite/cloud``).
        var sessions: [Int: ReconcileSession] = [:]
    }

    var replicas: [Replica]
    /// The index of the cloud aggregator in ``replicas``; edge nodes come before it.
    let cloud: Int
    var network = SimulatedNetwork()
    var now: UInt64 = 0
    var uplinkHolder: Int? = 0
    var uplinkCut = false
    /// Messages still in delivery on the uplink when it went down may arrive on the next
    /// connection (an MQTT session redelivers QoS 1 messages): the stale-delivery chance.
    var staleUplinkDelivery = 0.3
    var sessionConfiguration: ReconcileSession.Configuration
    /// The join of every write made anywhere: what every replica must end equal to.
    private(set) var truth = SiteState()
    /// What was added to each counter, over every write.
    private(set) var counterSums: [String: Int64] = [:]
    private(set) var writes = 0
    private(set) var batchesSent = 0
    /// Batches refused because their receiver did not hold their base (one before was lost).
    private(set) var batchesRefused = 0
    private(set) var decodeFailures: [String] = []
    private var generations: [Pair: UInt64] = [:]
    private var linked: Set<Pair> = []
    private var queue = EventQueue<Event>()
    private var random: SeededRandom

    struct Pair: Hashable {
        var low: Int
        var high: Int
        init(_ a: Int, _ b: Int) { (low, high) = (min(a, b), max(a, b)) }
    }

    /// Counters only ``write()`` adds to, with amounts it records (the random writer's own
    /// counter writes are not tracked one by one).
    static let trackedCounters = ["readings_uplinked", "alarms_sent"]

    init(edges: Int, seed: UInt64, maxBatchEntries: Int = 8) {
        random = SeededRandom(seed: seed)
        replicas = (0..<edges).map { Replica(name: "edge-\($0)", writer: RandomSiteWriter(name: "edge-\($0)")) }
        replicas.append(Replica(name: "cloud", writer: RandomSiteWriter(name: "cloud")))
        cloud = edges
        sessionConfiguration = ReconcileSession.Configuration()
        sessionConfiguration.maxBatchEntries = maxBatchEntries
        sessionConfiguration.maxInFlight = 3
        sessionConfiguration.ackTimeoutMilliseconds = 1_500
        sessionConfiguration.helloRetryMilliseconds = 400
        queue.push(.tick, at: 0)
        updateLinks()
    }

    var edgeIndices: Range<Int> { 0..<cloud }

    // MARK: Writes

    /// One random write on a random live edge node, or a `desired` edit in the cloud.
    mutating func write() {
        let live = replicas.indices.filter { replicas[$0].up }
        guard !live.isEmpty else { return }
        let index = random.pick(live)
        let delta: SiteDelta
        if index == cloud {
            let device = random.pick(RandomSiteWriter.devices)
            let field = random.pick(RandomSiteWriter.fields)
            let value = RandomSiteWriter.randomValue(using: &random)
            let stamp = replicas[index].writer.stamp(using: &random)
            delta = replicas[index].writer.state.set(.desired, device: device, fields: [(field, value)], stamp: stamp)
        } else if random.chance(0.2) {
            let name = random.pick(Self.trackedCounters)
            let amount = Int64(random.int(in: -5...20))
            delta = replicas[index].writer.state.addToCounter(name, amount, by: replicas[index].writer.node)
            counterSums[name, default: 0] += amount
        } else {
            delta = replicas[index].writer.randomOperation(using: &random)
        }
        truth.merge(delta)
        writes += 1
        pumpAll(index)
    }

    // MARK: Faults

    mutating func crash(_ index: Int) {
        replicas[index].up = false
        updateLinks()
    }

    mutating func restart(_ index: Int) {
        replicas[index].up = true
        updateLinks()
    }

    mutating func setUplink(holder: Int?, cut: Bool) {
        uplinkHolder = holder
        uplinkCut = cut
        updateLinks()
    }

    mutating func setPartition(_ partition: SimulatedNetwork.Partition) {
        network.partition = partition
        updateLinks()
    }

    /// Everything back: every node up, no partition, the uplink restored (held by a live node),
    /// and no more loss, so that convergence is a matter of time.
    mutating func heal() {
        for index in replicas.indices { replicas[index].up = true }
        network.partition = .none
        network.faults = .init(dropRate: 0, duplicateRate: 0.02, delayMilliseconds: 1...25)
        uplinkHolder = uplinkHolder ?? 0
        uplinkCut = false
        updateLinks()
    }

    // MARK: Running

    /// Runs the event queue until `until` (simulated milliseconds).
    mutating func run(until end: UInt64) {
        while let (time, event) = queue.pop() {
            if time > end {
                queue.push(event, at: time)
                break
            }
            now = time
            switch event {
            case .tick:
                for index in replicas.indices where replicas[index].up {
                    for peer in replicas[index].sessions.keys.sorted() {
                        let actions = replicas[index].sessions[peer]!.tick(local: replicas[index].writer.state, at: now)
                        perform(actions, at: index, peer: peer)
                    }
                }
                queue.push(.tick, at: now + 100)
            case .deliver(let from, let to, let generation, let message):
                deliver(message, from: from, to: to, generation: generation)
            }
        }
        now = end
    }

    /// Runs until every replica equals ``truth`` or `limit` more milliseconds pass; returns the
    /// milliseconds it took, or `nil`.
    mutating func runUntilConverged(within limit: UInt64) -> UInt64? {
        let start = now
        while now < start + limit {
            if converged { return now - start }
            run(until: now + 50)
        }
        return converged ? now - start : nil
    }

    var converged: Bool { replicas.allSatisfy { $0.writer.state == truth } }

    /// Replicas that differ from ``truth``, and counters whose value is not the sum of what was
    /// added to them.
    var divergences: [String] {
        var found: [String] = []
        for replica in replicas where replica.writer.state != truth {
            let state = replica.writer.state
            let parts = [
                ("context", state.context == truth.context), ("registry", state.registry == truth.registry),
                ("presence", state.presence == truth.presence), ("reported", state.reported == truth.reported),
                ("desired", state.desired == truth.desired), ("counters", state.counters == truth.counters),
                ("alarms", state.alarms == truth.alarms), ("rollups", state.rollups == truth.rollups), ("raw", state.raw == truth.raw),
            ].filter { !$0.1 }.map(\.0)
            found.append("\(replica.name) differs from the join of all writes in \(parts.joined(separator: ", ")))")
        }
        for replica in replicas {
            for (name, sum) in counterSums.sorted(by: { $0.key < $1.key }) where replica.writer.state.counters.value(name) != sum {
                found.append("\(replica.name): counter \(name) = \(replica.writer.state.counters.value(name)), added \(sum)")
            }
        }
        return found + decodeFailures
    }

    // MARK: Private

    /// Whether `a` and `b` are connected now: both up, and not partitioned (edges), or the
    /// uplink (an edge and the cloud).
    private func linkUp(_ pair: Pair) -> Bool {
        guard replicas[pair.low].up, replicas[pair.high].up else { return false }
        if pair.high == cloud { return pair.low == uplinkHolder && !uplinkCut }
        return !network.partition.blocks(from: pair.low, to: pair.high) && !network.partition.blocks(from: pair.high, to: pair.low)
    }

    /// Brings the sessions in line with which links are up: a link that went down disconnects
    /// both ends (a crashed node loses its sessions altogether); one that came up connects both.
    private mutating func updateLinks() {
        for index in replicas.indices where !replicas[index].up {
            replicas[index].sessions.removeAll()
        }
        for a in replicas.indices {
            for b in replicas.indices where a < b {
                let pair = Pair(a, b)
                let up = linkUp(pair)
                if up && !linked.contains(pair) {
                    linked.insert(pair)
                    generations[pair, default: 0] += 1
                    for (end, other) in [(a, b), (b, a)] {
                        var session = ReconcileSession(configuration: sessionConfiguration)
                        let actions = session.connected(local: replicas[end].writer.state, at: now)
                        replicas[end].sessions[other] = session
                        perform(actions, at: end, peer: other)
                    }
                } else if !up && linked.contains(pair) {
                    linked.remove(pair)
                    generations[pair, default: 0] += 1
                    replicas[a].sessions[b]?.disconnected()
                    replicas[b].sessions[a]?.disconnected()
                }
            }
        }
    }

    private mutating func send(_ message: Message, from: Int, to: Int) {
        let pair = Pair(from, to)
        guard linked.contains(pair) else { return }
        if case .batch = message { batchesSent += 1 }
        for delay in network.deliveries(from: from, to: to, using: &random) {
            queue.push(.deliver(from: from, to: to, generation: generations[pair] ?? 0, message), at: now + delay)
        }
    }

    private mutating func deliver(_ message: Message, from: Int, to: Int, generation: UInt64) {
        let pair = Pair(from, to)
        guard linked.contains(pair), replicas[to].sessions[from] != nil else { return }
        if generation != generations[pair] {
            // A TCP connection's bytes die with it; an MQTT session may still hand them over.
            guard pair.high == cloud, random.chance(staleUplinkDelivery) else { return }
        }
        let local = replicas[to].writer.state
        var actions: [ReconcileSession.Action]
        switch message {
        case .hello(let summary, let wantsReply):
            actions = replicas[to].sessions[from]!.receivedHello(summary, wantsReply: wantsReply, local: local, at: now)
        case .batch(let id, let base, let bytes):
            do {
                actions = replicas[to].sessions[from]!.receivedBatch(id: id, base: base, try SiteDeltaCodec.decode(bytes), local: local)
            } catch {
                decodeFailures.append("\(replicas[to].name): batch \(id) from \(replicas[from].name) does not decode: \(error)")
                return
            }
        case .ack(let id, let merged, let summary):
            actions = replicas[to].sessions[from]!.receivedAcknowledgement(
                id: id, merged: merged, summary: summary, local: local, at: now)
        }
        perform(actions, at: to, peer: from)
    }

    /// Performs a session's actions for replica `index` on its link to `peer`. A merge changes
    /// the replica, so every other session of it is pumped afterwards.
    private mutating func perform(_ actions: [ReconcileSession.Action], at index: Int, peer: Int) {
        var merged = false
        for action in actions {
            switch action {
            case .sendHello(let summary, let wantsReply):
                send(.hello(summary, wantsReply: wantsReply), from: index, to: peer)
            case .sendBatch(let id, let base, let batch):
                send(.batch(id: id, base: base, SiteDeltaCodec.encode(batch)), from: index, to: peer)
            case .merge(let batch):
                replicas[index].writer.state.merge(batch)
                merged = true
            case .acknowledge(let id, let merged):
                if !merged { batchesRefused += 1 }
                send(.ack(id: id, merged: merged, replicas[index].writer.state.summary), from: index, to: peer)
            }
        }
        if merged { pumpAll(index) }
    }

    /// The replica changed: every session of it sends what its other side now lacks.
    private mutating func pumpAll(_ index: Int) {
        for peer in replicas[index].sessions.keys.sorted() {
            let actions = replicas[index].sessions[peer]!.pump(local: replicas[index].writer.state, at: now)
            perform(actions, at: index, peer: peer)
        }
    }
}
