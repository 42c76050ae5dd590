/// One edge node's part in the site's local quorum: its CASPaxos ``Proposer`` and ``Acceptor``,
/// its view of which members are alive, and the leases it keeps on its own behalf — one per
/// device shard it should own and one per role it should hold — plus the client operations the
/// admin API submits (key-value, leases, job claims).
///
/// Placement is rendezvous hashing over the members this node believes alive: the first of them
/// for a shard or role acquires its lease and renews it every half TTL. When a node dies,
/// the next in line acquires once the dead node's lease expires (within the TTL plus detection).
/// When it returns, the current holder releases to it once it has been alive for
/// `rebalanceDelayMilliseconds`. Ownership is only ever what a granted, still valid lease says,
/// so two nodes never own a shard at once however wrong their views are.
///
/// A value type: time (the node's monotonic milliseconds) is passed in; outputs are performed by
/// the shell in order (persist an acceptor record durably before the send that follows it).
public struct SiteCoordinator: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var node: String
        public var members: [String]
        public var shardCount = 16
        /// Roles held by exactly one live node (`cloud-uplink` and user-defined ones).
        public var roles = ["cloud-uplink"]
        public var leaseTTLMilliseconds: UInt64 = 3_000
        /// How long a returning node must stay alive before shards and roles move back to it.
        public var rebalanceDelayMilliseconds: UInt64 = 2_000
        public var membership = MembershipView.Configuration()
        public var proposer: Proposer.Configuration

        public init(node: String, members: [String]) {
            self.node = node
            self.members = members
            self.proposer = Proposer.Configuration(members: members)
        }
    }

    public enum Output: Hashable, Sendable {
        /// A quorum message for `to` (possibly this node itself: deliver it back locally).
        case send(QuorumMessage, to: String)
        /// Persist the acceptor's record of `key` durably before performing any later output.
        case persistAcceptor(key: String, Acceptor.Record)
        /// A client operation ended.
        case completed(OperationID, key: String, RegisterOperation, RegisterOutcome)
        /// The shards this node owns now (after a change).
        case ownedShardsChanged(Set<Int>)
        /// The roles this node holds now (after a change).
        case rolesChanged(Set<String>)
        /// A decision for the audit chain: kind, key, detail.
        case decided(kind: String, key: String, detail: String)
    }

    /// A lease this node holds for itself, valid until `validUntil` (its monotonic clock).
    public struct HeldLease: Hashable, Sendable {
        public var token: UInt64
        public var validUntil: UInt64
    }

    public let configuration: Configuration
    public private(set) var proposer: Proposer
    public private(set) var acceptor: Acceptor
    public private(set) var membership: MembershipView
    /// Leases held for shards (`shard/N`) and roles (`role/NAME`), by key.
    public private(set) var held: [String: HeldLease] = [:]
    /// Whether this node acquires shard and role leases it does not hold (see ``LeaseClockGate``);
    /// while false it still renews what it holds and hands over what others should have.
    public var takesNewLeases = true
    private var ownLeaseOperations: [OperationID: String] = [:]
    private var liveSince: [String: UInt64] = [:]
    private var reportedShards: Set<Int> = []
    private var reportedRoles: Set<String> = []

    /// `acceptorRecords`: what the acceptor persisted before; `incarnation`: a number that grows
    /// on every start of this node.
    public init(configuration: Configuration, acceptorRecords: [String: Acceptor.Record], incarnation: UInt64, at now: UInt64) {
        self.configuration = configuration
        self.acceptor = Acceptor(restoring: acceptorRecords, at: now)
        let floor = acceptorRecords.values.map(\.promised.counter).max() ?? 0
        self.proposer = Proposer(node: configuration.node, incarnation: incarnation, configuration: configuration.proposer, ballotFloor: floor)
        self.membership = MembershipView(selfName: configuration.node, members: configuration.members, configuration: configuration.membership)
    }

    public static func shardKey(_ shard: Int) -> String { "shard/\(shard)" }
    public static func roleKey(_ role: String) -> String { "role/\(role)" }

    /// The shards this node owns at `now`: those whose lease it holds and is still valid.
    public func ownedShards(at now: UInt64) -> Set<Int> {
        Set((0..<configuration.shardCount).filter { held[Self.shardKey($0)].map { $0.validUntil > now } ?? false })
    }

    /// The roles this node holds at `now`.
    public func heldRoles(at now: UInt64) -> Set<String> {
        Set(configuration.roles.filter { held[Self.roleKey($0)].map { $0.validUntil > now } ?? false })
    }

    /// The fencing token of this node's valid lease on `shard`, for commands to its devices.
    public func fence(forShard shard: Int, at now: UInt64) -> UInt64? {
        held[Self.shardKey(shard)].flatMap { $0.validUntil > now ? $0.token : nil }
    }

    // MARK: Inputs

    public mutating func heartbeat(from peer: String, at now: UInt64) {
        membership.heartbeat(from: peer, at: now)
    }

    /// Submits a client operation (admin API).
    public mutating func submit(_ operation: RegisterOperation, key: String, at now: UInt64) -> (OperationID, [Output]) {
        let (id, outputs) = proposer.submit(operation, key: key, at: now)
        return (id, handle(outputs, at: now))
    }

    /// Handles a quorum message from `peer` (or from this node itself).
    public mutating func receive(_ message: QuorumMessage, from peer: String, at now: UInt64) -> [Output] {
        switch message {
        case .prepare, .accept, .confirm:
            guard configuration.members.contains(peer), let step = acceptor.receive(message, at: now) else { return [] }
            var outputs: [Output] = []
            if let record = step.persist { outputs.append(.persistAcceptor(key: step.reply.key, record)) }
            outputs.append(.send(step.reply, to: peer))
            return outputs
        case .promise, .accepted, .confirmed, .reject:
            return handle(proposer.receive(message, from: peer, at: now), at: now)
        }
    }

    /// Retries and timeouts of the proposer, and the upkeep of this node's own leases. Call it
    /// every few tens of milliseconds.
    public mutating func tick(at now: UInt64) -> [Output] {
        var outputs = handle(proposer.tick(at: now), at: now)
        let live = membership.liveMembers(at: now)
        for member in configuration.members {
            if live.contains(member) {
                if liveSince[member] == nil { liveSince[member] = now }
            } else {
                liveSince[member] = nil
            }
        }
        for shard in 0..<configuration.shardCount {
            outputs += keep(Self.shardKey(shard), preferred: ShardPlacement.owner(shard: shard, members: live), at: now)
        }
        for (index, role) in configuration.roles.enumerated() {
            // Roles rank members like shards numbered after the real ones.
            let preferred = ShardPlacement.owner(shard: configuration.shardCount + index, members: live)
            outputs += keep(Self.roleKey(role), preferred: preferred, at: now)
        }
        return outputs + changes(at: now)
    }

    // MARK: Own leases

    private mutating func keep(_ key: String, preferred: String?, at now: UInt64) -> [Output] {
        guard !ownLeaseOperations.values.contains(key) else { return [] }
        let ttl = configuration.leaseTTLMilliseconds
        let lease = held[key].flatMap { $0.validUntil > now ? $0 : nil }
        if preferred != configuration.node, let lease, let preferred, let since = liveSince[preferred],
            now >= since + configuration.rebalanceDelayMilliseconds
        {
            // Hand over to the preferred node: stop using the lease first, then release it.
            held[key] = nil
            return submitOwn(.releaseLease(holder: configuration.node, token: lease.token), key: key, at: now)
        }
        // The preferred node acquires; a holder nobody better is ready to relieve keeps serving.
        // Both renew once half of the TTL has passed (half is left to retry in).
        let wanted = preferred == configuration.node || lease != nil
        guard wanted, lease != nil || takesNewLeases, lease.map({ $0.validUntil < now + ttl / 2 }) ?? true else { return [] }
        return submitOwn(.acquireLease(holder: configuration.node, ttlMilliseconds: ttl), key: key, at: now)
    }

    private mutating func submitOwn(_ operation: RegisterOperation, key: String, at now: UInt64) -> [Output] {
        let (id, outputs) = proposer.submit(operation, key: key, at: now)
        ownLeaseOperations[id] = key
        return handle(outputs, at: now)
    }

    // MARK: Outputs

    private mutating func handle(_ outputs: [Proposer.Output], at now: UInt64) -> [Output] {
        var result: [Output] = []
        for output in outputs {
            switch output {
            case .send(let message, let to):
                result.append(.send(message, to: to))
            case .completed(let id, let key, let operation, let outcome):
                if ownLeaseOperations.removeValue(forKey: id) != nil {
                    result += ownLeaseCompleted(key: key, operation, outcome, at: now)
                } else {
                    result += Self.audit(key: key, operation, outcome)
                    result.append(.completed(id, key: key, operation, outcome))
                }
            }
        }
        return result
    }

    private mutating func ownLeaseCompleted(key: String, _ operation: RegisterOperation, _ outcome: RegisterOutcome, at now: UInt64) -> [Output] {
        var outputs: [Output] = []
        switch outcome {
        case .granted(let record, let validFor):
            if record.renewal == 0 {
                outputs.append(.decided(kind: "lease.acquire", key: key, detail: "holder=\(configuration.node) token=\(record.token)"))
            }
            held[key] = HeldLease(token: record.token, validUntil: now + validFor)
        case .released(let record):
            outputs.append(.decided(kind: "lease.release", key: key, detail: "holder=\(configuration.node) token=\(record.token)"))
            held[key] = nil
        case .held, .notHolder, .invalid, .unavailable, .indeterminate, .value, .written, .conflict:
            break  // keep what is still valid; the next tick tries again
        }
        return outputs + changes(at: now)
    }

    /// Audit entries for decisions of client operations (reads and failures decide nothing).
    private static func audit(key: String, _ operation: RegisterOperation, _ outcome: RegisterOutcome) -> [Output] {
        switch outcome {
        case .written(let value): [.decided(kind: "kv", key: key, detail: "version=\(value.version)")]
        case .granted(let record, _) where record.renewal == 0:
            [.decided(kind: "lease.acquire", key: key, detail: "holder=\(record.holder ?? "") token=\(record.token)")]
        case .released(let record): [.decided(kind: "lease.release", key: key, detail: "token=\(record.token)")]
        default: []
        }
    }

    private mutating func changes(at now: UInt64) -> [Output] {
        var outputs: [Output] = []
        let shards = ownedShards(at: now)
        if shards != reportedShards {
            reportedShards = shards
            outputs.append(.ownedShardsChanged(shards))
        }
        let roles = heldRoles(at: now)
        if roles != reportedRoles {
            reportedRoles = roles
            outputs.append(.rolesChanged(roles))
        }
        return outputs
    }
}
