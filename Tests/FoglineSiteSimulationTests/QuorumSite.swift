import FoglineCore
import FoglineTesting

/// A whole site's quorum in one deterministic simulation: 3 or 5 nodes, each a real
/// ``Proposer`` and ``Acceptor``, on a ``SimulatedNetwork`` that drops, duplicates, delays,
/// reorders and partitions; nodes crash and restart with only what their acceptor persisted;
/// each node's monotonic clock runs at its own rate within the configured drift bound.
///
/// Clients on every node run key-value reads and compare-and-sets and lease acquires and
/// releases, one operation at a time each, and everything they see is recorded: the histories
/// for the linearizability checker and the windows in which each client believed it held a
/// lease, for the lease-safety check. A run is a pure function of its seed.
struct QuorumSite: Sendable {
    struct Settings: Sendable {
        var nodes = 3
        var clientsPerNode = 2
        /// Real milliseconds of faulty operation, followed by a healed period.
        var faultyMilliseconds: UInt64 = 3_000
        var healedMilliseconds: UInt64 = 4_000
        var leaseTTLMilliseconds: UInt64 = 300
        var maxClockDrift = 0.01
        var crashChance = 0.3
        var faults = SimulatedNetwork.Faults()
        var kvKeys = ["kv/a", "kv/b"]
        var leaseKeys = ["lease/x", "lease/y"]
        /// Jobs are claimed with compare-and-set from version 0: at most one claim can succeed.
        var jobKeys = ["job/1", "job/2", "job/3"]
        /// A partition held for the whole run instead of random ones (no crashes, no healing).
        var pinnedPartition: SimulatedNetwork.Partition?
    }

    typealias KVSpec = VersionedRegisterSpecification<String>
    typealias LeaseSpec = LeaseRegisterSpecification

    /// A period in which a client believed it held `token` of lease `key`, in real time.
    struct LeaseWindow: LeaseValidityWindow, Sendable {
        var key: String
        var holder: String
        var token: UInt64
        var start: UInt64
        var end: UInt64

        var description: String { "\(key) t\(token) \(holder) [\(start), \(end))" }
    }

    private enum Event: Sendable {
        case deliver(from: Int, to: Int, QuorumMessage)
        case tick(node: Int)
        case clientTurn(node: Int, client: Int, incarnation: UInt64)
        case faultChange
        case restart(node: Int)
        case heal
        /// Once healed, every node claims every job: each must end claimed exactly once.
        case claimAllJobs
    }

    private struct Node: Sendable {
        var name: String
        var rate: Double
        var clockOffset: UInt64
        var alive = true
        var incarnation: UInt64 = 0
        var persisted: [String: Acceptor.Record] = [:]
        var acceptor: Acceptor
        var proposer: Proposer
        /// The history record of each operation in flight.
        var inFlight: [OperationID: InFlight] = [:]
        var clients: [ClientState]
    }

    /// The client index of operations the simulation itself issues.
    private static let janitor = -1

    private struct InFlight: Sendable {
        var client: Int
        var record: Int
        var submittedReal: UInt64
        var isLease: Bool
    }

    private struct ClientState: Sendable {
        var busy = false
        var kvVersions: [String: UInt64] = [:]
        /// Lease tokens this client believes it holds, by key, with the window's index.
        var held: [String: (token: UInt64, window: Int)] = [:]
        var writes = 0
    }

    /// One recorded operation; `nil` output while pending, dropped when it provably did nothing.
    private struct Recorded<Input: Sendable, Output: Sendable>: Sendable {
        var client: Int
        var key: String
        var input: Input
        var invokedAt: UInt64
        var output: Output?
        var respondedAt: UInt64 = 0
        var dropped = false
    }

    let settings: Settings
    private(set) var random: SeededRandom
    private var network = SimulatedNetwork()
    private var nodes: [Node] = []
    private var events = EventQueue<Event>()
    private(set) var now: UInt64 = 0
    private var kvRecords: [Recorded<KVSpec.Input, KVSpec.Output>] = []
    private var leaseRecords: [Recorded<LeaseSpec.Input, LeaseSpec.Output>] = []
    private(set) var windows: [LeaseWindow] = []
    private(set) var unexpected: [String] = []
    private(set) var healed = false
    /// Operations that completed successfully after the faults healed (the liveness check).
    private(set) var successesAfterHeal = 0
    private(set) var unavailableAfterHeal: [String] = []
    private(set) var crashes = 0
    /// Per node: operations that decided something, and those that ended without a quorum.
    private(set) var decidedByNode: [Int: Int] = [:]
    private(set) var undecidedByNode: [Int: Int] = [:]
    private(set) var partitionsSeen: [String] = []
    /// One-round-trip operations of proposers that have since been replaced by a restart.
    private var earlierOneRoundTrip = Proposer.Statistics()

    init(seed: UInt64, settings: Settings = Settings()) {
        self.settings = settings
        self.random = SeededRandom(seed: seed)
        network.faults = settings.faults
        let names = (0..<settings.nodes).map { "node-\($0)" }
        var configuration = Proposer.Configuration(members: names)
        configuration.maxClockDrift = settings.maxClockDrift
        for name in names {
            let rate = 1 + (Double(random.int(in: -1_000...1_000)) / 1_000) * settings.maxClockDrift
            let offset = UInt64(random.int(in: 0...1_000_000))
            nodes.append(Node(
                name: name, rate: rate, clockOffset: offset, acceptor: Acceptor(at: offset),
                proposer: Proposer(node: name, incarnation: 0, configuration: configuration),
                clients: Array(repeating: ClientState(), count: settings.clientsPerNode)))
        }
        for node in nodes.indices {
            events.push(.tick(node: node), at: 0)
            for client in 0..<settings.clientsPerNode {
                events.push(.clientTurn(node: node, client: client, incarnation: 0), at: UInt64(random.int(in: 0...20)))
            }
        }
        if let pinned = settings.pinnedPartition {
            network.partition = pinned
        } else {
            events.push(.faultChange, at: 200)
            events.push(.heal, at: settings.faultyMilliseconds)
        }
    }

    // MARK: Running

    mutating func run() {
        let end = settings.faultyMilliseconds + settings.healedMilliseconds
        while let (time, event) = events.pop(), time <= end {
            now = time
            handle(event)
        }
    }

    private mutating func handle(_ event: Event) {
        switch event {
        case .deliver(let from, let to, let message):
            deliver(message, from: from, to: to)
        case .tick(let node):
            if nodes[node].alive {
                let outputs = nodes[node].proposer.tick(at: localTime(node))
                perform(outputs, at: node)
            }
            events.push(.tick(node: node), at: now + 10)
        case .clientTurn(let node, let client, let incarnation):
            guard nodes[node].alive, nodes[node].incarnation == incarnation else { return }
            issue(node: node, client: client)
        case .faultChange:
            changeFaults()
        case .restart(let node):
            restart(node)
        case .heal:
            healed = true
            network.partition = .none
            network.faults = SimulatedNetwork.Faults(dropRate: 0, duplicateRate: 0, delayMilliseconds: settings.faults.delayMilliseconds)
            for node in nodes.indices where !nodes[node].alive { restart(node) }
            events.push(.claimAllJobs, at: now + nodes[0].proposer.configuration.operationTimeoutMilliseconds + 500)
        case .claimAllJobs:
            for node in nodes.indices {
                for key in settings.jobKeys {
                    let value = "janitor-\(node)"
                    kvRecords.append(Recorded(client: 10_000 + node, key: key, input: .cas(expectedVersion: 0, newValue: value), invokedAt: now))
                    let (id, outputs) = nodes[node].proposer.submit(.compareAndSet(expectedVersion: 0, value: Array(value.utf8)), key: key, at: localTime(node))
                    nodes[node].inFlight[id] = InFlight(client: Self.janitor, record: kvRecords.count - 1, submittedReal: now, isLease: false)
                    perform(outputs, at: node)
                }
            }
        }
    }

    private func localTime(_ node: Int) -> UInt64 {
        nodes[node].clockOffset &+ UInt64(Double(now) * nodes[node].rate)
    }

    private mutating func deliver(_ message: QuorumMessage, from: Int, to: Int) {
        guard nodes[to].alive else { return }
        switch message {
        case .prepare, .accept, .confirm:
            guard let step = nodes[to].acceptor.receive(message, at: localTime(to)) else { return }
            // Durable before the reply leaves, as the shell does with fsync.
            if let record = step.persist { nodes[to].persisted[step.reply.key] = record }
            send(step.reply, from: to, to: from)
        case .promise, .accepted, .confirmed, .reject:
            perform(nodes[to].proposer.receive(message, from: nodes[from].name, at: localTime(to)), at: to)
        }
    }

    private mutating func send(_ message: QuorumMessage, from: Int, to: Int) {
        for delay in network.deliveries(from: from, to: to, using: &random) {
            events.push(.deliver(from: from, to: to, message), at: now + delay)
        }
    }

    private mutating func perform(_ outputs: [Proposer.Output], at node: Int) {
        for output in outputs {
            switch output {
            case .send(let message, let to):
                guard let target = nodes.firstIndex(where: { $0.name == to }) else { continue }
                send(message, from: node, to: target)
            case .completed(let id, let key, let operation, let outcome):
                complete(id, key: key, operation, outcome, at: node)
            }
        }
    }

    // MARK: Faults

    private mutating func changeFaults() {
        guard !healed else { return }
        network.partition = .random(nodes: nodes.count, using: &random)
        partitionsSeen.append(network.partition.description)
        if random.chance(settings.crashChance), let victim = nodes.indices.filter({ nodes[$0].alive }).randomElement(using: &random) {
            crash(victim)
            events.push(.restart(node: victim), at: now + UInt64(random.int(in: 100...800)))
        }
        events.push(.faultChange, at: now + UInt64(random.int(in: 200...900)))
    }

    /// Everything not persisted is lost; operations in flight never return.
    private mutating func crash(_ node: Int) {
        crashes += 1
        nodes[node].alive = false
        nodes[node].inFlight = [:]
        nodes[node].clients = Array(repeating: ClientState(), count: settings.clientsPerNode)
    }

    private mutating func restart(_ node: Int) {
        guard !nodes[node].alive else { return }
        nodes[node].alive = true
        nodes[node].incarnation += 1
        // A restarted process has a new monotonic clock.
        nodes[node].clockOffset = UInt64(random.int(in: 0...1_000_000)) &- UInt64(Double(now) * nodes[node].rate)
        let local = localTime(node)
        nodes[node].acceptor = Acceptor(restoring: nodes[node].persisted, at: local)
        let floor = nodes[node].persisted.values.map(\.promised.counter).max() ?? 0
        earlierOneRoundTrip.oneRoundTripStarts += nodes[node].proposer.statistics.oneRoundTripStarts
        earlierOneRoundTrip.oneRoundTripDecided += nodes[node].proposer.statistics.oneRoundTripDecided
        nodes[node].proposer = Proposer(
            node: nodes[node].name, incarnation: nodes[node].incarnation, configuration: nodes[node].proposer.configuration,
            ballotFloor: floor)
        for client in 0..<settings.clientsPerNode {
            events.push(.clientTurn(node: node, client: client, incarnation: nodes[node].incarnation), at: now + UInt64(random.int(in: 0...20)))
        }
    }

    // MARK: Clients

    private func holderName(node: Int, client: Int) -> String { "n\(node)c\(client)" }

    private mutating func issue(node: Int, client: Int) {
        guard !nodes[node].clients[client].busy else { return }
        let operation: RegisterOperation
        let key: String
        let isLease = random.chance(0.5)
        if isLease {
            key = random.pick(settings.leaseKeys)
            let holder = holderName(node: node, client: client)
            if let held = nodes[node].clients[client].held[key], random.chance(0.4) {
                operation = .releaseLease(holder: holder, token: held.token)
                // The client stops acting on the lease (every grant of it) before it asks to release it.
                LeaseWindowCheck.release(&windows, key: key, holder: holder, token: held.token, at: now)
                nodes[node].clients[client].held[key] = nil
                leaseRecords.append(Recorded(client: clientID(node, client), key: key, input: .release(holder: holder, token: held.token), invokedAt: now))
            } else {
                operation = .acquireLease(holder: holder, ttlMilliseconds: settings.leaseTTLMilliseconds)
                leaseRecords.append(Recorded(client: clientID(node, client), key: key, input: .acquire(holder: holder), invokedAt: now))
            }
        } else if random.chance(healed ? 0.3 : 0.1) {
            // Claim a job: compare-and-set from version 0.
            key = random.pick(settings.jobKeys)
            let value = holderName(node: node, client: client)
            operation = .compareAndSet(expectedVersion: 0, value: Array(value.utf8))
            kvRecords.append(Recorded(client: clientID(node, client), key: key, input: .cas(expectedVersion: 0, newValue: value), invokedAt: now))
        } else {
            key = random.pick(settings.kvKeys)
            if random.chance(0.4) {
                operation = .read
                kvRecords.append(Recorded(client: clientID(node, client), key: key, input: .get, invokedAt: now))
            } else {
                let known = nodes[node].clients[client].kvVersions[key] ?? 0
                let expected = random.chance(0.8) ? known : UInt64(random.int(in: 0...Int(known + 1)))
                nodes[node].clients[client].writes += 1
                let value = "\(holderName(node: node, client: client))-\(nodes[node].incarnation)-\(nodes[node].clients[client].writes)"
                operation = .compareAndSet(expectedVersion: expected, value: Array(value.utf8))
                kvRecords.append(Recorded(client: clientID(node, client), key: key, input: .cas(expectedVersion: expected, newValue: value), invokedAt: now))
            }
        }
        nodes[node].clients[client].busy = true
        let (id, outputs) = nodes[node].proposer.submit(operation, key: key, at: localTime(node))
        nodes[node].inFlight[id] = InFlight(
            client: client, record: (isLease ? leaseRecords.count : kvRecords.count) - 1, submittedReal: now, isLease: isLease)
        perform(outputs, at: node)
    }

    private func clientID(_ node: Int, _ client: Int) -> Int { node * 100 + client }

    private mutating func complete(_ id: OperationID, key: String, _ operation: RegisterOperation, _ outcome: RegisterOutcome, at node: Int) {
        guard let flight = nodes[node].inFlight.removeValue(forKey: id) else { return }
        let client = flight.client
        if client != Self.janitor {
            nodes[node].clients[client].busy = false
            // Clients hammer the keys while faults run (to provoke races), then think like operators.
            let pause = healed ? random.int(in: 20...200) : random.int(in: 0...40)
            events.push(.clientTurn(node: node, client: client, incarnation: nodes[node].incarnation), at: now + UInt64(pause))
        }
        // Operations queued behind ones from the faulty period may wait out their deadline, so
        // liveness is judged on those submitted once every earlier operation has ended.
        let settled = settings.faultyMilliseconds + nodes[node].proposer.configuration.operationTimeoutMilliseconds + 500
        if healed && flight.submittedReal >= settled {
            switch outcome {
            case .unavailable(let why), .indeterminate(let why): unavailableAfterHeal.append("\(key) \(operation): \(why)")
            default: successesAfterHeal += 1
            }
        }
        switch outcome {
        case .unavailable, .indeterminate: undecidedByNode[node, default: 0] += 1
        default: decidedByNode[node, default: 0] += 1
        }
        if flight.isLease {
            completeLease(flight, key: key, operation, outcome, node: node)
        } else {
            completeKV(flight, key: key, outcome, node: node)
        }
    }

    private mutating func completeKV(_ flight: InFlight, key: String, _ outcome: RegisterOutcome, node: Int) {
        let output: KVSpec.Output
        switch outcome {
        case .value(let value): output = .value(Self.text(value), version: value.version)
        case .written(let value): output = .ok(newVersion: value.version)
        case .conflict(let value): output = .conflict(currentVersion: value.version)
        case .unavailable:
            kvRecords[flight.record].dropped = true  // claimed to have changed nothing: the checker tests that claim
            return
        case .indeterminate:
            return  // stays pending
        default:
            unexpected.append("kv \(key): \(outcome)")
            return
        }
        kvRecords[flight.record].output = output
        kvRecords[flight.record].respondedAt = now
        guard flight.client != Self.janitor else { return }
        switch output {
        case .value(_, let version), .ok(let version), .conflict(let version):
            nodes[node].clients[flight.client].kvVersions[key] = version
        }
    }

    private mutating func completeLease(_ flight: InFlight, key: String, _ operation: RegisterOperation, _ outcome: RegisterOutcome, node: Int) {
        let output: LeaseSpec.Output
        switch outcome {
        case .granted(let record, let validFor):
            output = .granted(token: record.token)
            // The client acts on the lease from now until its validity ends by its own clock;
            // each grant (renewals included) is a window of its own.
            if validFor > 0 {
                let end = now + UInt64(Double(validFor) / nodes[node].rate)
                windows.append(LeaseWindow(key: key, holder: record.holder ?? "?", token: record.token, start: now, end: end))
                nodes[node].clients[flight.client].held[key] = (record.token, windows.count - 1)
            }
        case .held(let record, _): output = .held(by: record.holder ?? "?")
        case .released: output = .ok
        case .notHolder: output = .notHolder
        case .unavailable:
            leaseRecords[flight.record].dropped = true
            return
        case .indeterminate:
            return
        default:
            unexpected.append("lease \(key): \(outcome)")
            return
        }
        leaseRecords[flight.record].output = output
        leaseRecords[flight.record].respondedAt = now
    }

    private static func text(_ value: RegisterValue) -> String? {
        if case .data(let bytes) = value.content { return String(decoding: bytes, as: UTF8.self) }
        return nil
    }

    // MARK: Results

    var kvHistory: History<KVSpec.Input, KVSpec.Output> { Self.history(kvRecords) }
    var leaseHistory: History<LeaseSpec.Input, LeaseSpec.Output> { Self.history(leaseRecords) }

    private static func history<I, O>(_ records: [Recorded<I, O>]) -> History<I, O> {
        History(records.filter { !$0.dropped }.enumerated().map { index, record in
            HistoryOperation(
                id: index, client: record.client, key: record.key, input: record.input, invokedAt: record.invokedAt,
                response: record.output.map { .init(output: $0, at: record.respondedAt) })
        })
    }

    /// Pairs of lease windows of different grants that overlap in real time, or whose tokens
    /// are out of order: each would let two clients act at once.
    var leaseSafetyViolations: [String] {
        LeaseWindowCheck.violations(windows).map(\.description)
    }

    /// Jobs that were never claimed, or claimed more than once.
    var jobsNotClaimedExactlyOnce: [String] {
        settings.jobKeys.filter { key in
            let versions = kvRecords.filter { $0.key == key }.compactMap { record -> UInt64? in
                switch record.output {
                case .ok(let version)?: version
                case .conflict(let version)?: version
                case .value(_, let version)?: version
                case nil: nil
                }
            }
            return versions.max() != 1
        }
    }

    /// Operations that started at phase 2 with a ballot promised in advance, and those of them
    /// decided in that one round trip, over every node and incarnation.
    var oneRoundTrip: Proposer.Statistics {
        nodes.reduce(into: earlierOneRoundTrip) { total, node in
            total.oneRoundTripStarts += node.proposer.statistics.oneRoundTripStarts
            total.oneRoundTripDecided += node.proposer.statistics.oneRoundTripDecided
        }
    }

    var completedCount: (kv: Int, lease: Int) {
        (kvRecords.filter { $0.output != nil }.count, leaseRecords.filter { $0.output != nil }.count)
    }
}
