/// The proposer half of CASPaxos: runs client operations on the site's quorum store.
///
/// No leader, no log: each operation is one round — prepare to every acceptor, take the value of
/// the highest ballot among a majority of promises, apply the operation to it, and have a
/// majority accept the result (the unchanged value for reads, so that reads are linearizable
/// too). A value type; every call takes the local monotonic time in milliseconds and returns the
/// messages to send and the operations that completed. The shell calls ``tick(at:)`` every few
/// tens of milliseconds (timeouts are hundreds).
///
/// One round trip on plain registers (the CASPaxos paper's optimisation): every accept of a
/// non-lease value also prepares this proposer's next ballot on the key. When a majority accepts
/// and promises that ballot in the same durable write, the proposer keeps the ballot with the
/// value it just wrote, and its next operation on the key (a read or compare-and-set) starts at
/// phase 2 with them — the promises are exactly what a prepare sent just then would have
/// returned. Any rejection or timeout, or a majority without the promise, falls back to full
/// rounds. Lease keys always take both phases: their promises carry each acceptor's remaining
/// lease time (PaxosLease), which a promise given in advance cannot know.
///
/// An operation that changes nothing (a read, a refused compare-and-set) on a ballot promised in
/// advance does not even write the value back: it asks the acceptors to confirm that the promise
/// still stands (``QuorumMessage/confirm(key:ballot:nonce:)``). A majority confirming it still holds
/// the value this proposer wrote with it, and nothing newer can have been chosen — that would have
/// needed a majority promising past the ballot — so the value is current at the first
/// confirmation: a linearizable read without a disk write on any node, the promise kept for the
/// next operation. Any rejection falls back to full rounds.
///
/// Operations on one key run one at a time per proposer (later ones wait in a bounded queue);
/// operations on different keys run concurrently. A round that is rejected or times out is
/// retried with a higher ballot after a randomized backoff, until the operation's deadline: then
/// it ends `unavailable` (nothing changed) or `indeterminate` (a change was proposed and may have
/// been chosen), never with a guess.
public struct Proposer: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// Every acceptor of the site, this node included (a majority of them decides).
        public var members: [String]
        /// How long one round waits for a majority before it is retried.
        public var roundTimeoutMilliseconds: UInt64 = 400
        /// How long an operation may take before it ends unavailable or indeterminate.
        public var operationTimeoutMilliseconds: UInt64 = 2_000
        /// Operations waiting per key behind the one in flight; beyond it, new ones are refused.
        public var maxQueuedPerKey = 64
        /// Whether accepts of plain values also prepare the next ballot (one round trip for the
        /// next operation on the key while no other proposer intervenes).
        public var oneRoundTrip = true
        /// Keys for which a promised next ballot is kept at most (beyond, new ones are not asked).
        public var maxPromisedAheadKeys = 4_096
        /// Bound on how far any node's monotonic clock rate strays from real time (0.01: 1 %).
        /// Lease holders count their grants shorter by twice this, so that a holder's lease ends
        /// before any acceptor that accepted the grant stops timing it.
        public var maxClockDrift = 0.01

        public init(members: [String]) {
            self.members = members
        }

        /// Acceptors needed to decide.
        public var quorum: Int { members.count / 2 + 1 }
    }

    public enum Output: Hashable, Sendable {
        case send(QuorumMessage, to: String)
        case completed(OperationID, key: String, RegisterOperation, RegisterOutcome)
    }

    /// Counts of operations, for tests and metrics.
    public struct Statistics: Sendable, Equatable {
        /// Operations that started at phase 2 with a ballot promised in advance.
        public var oneRoundTripStarts = 0
        /// Of those, the ones decided in that single round.
        public var oneRoundTripDecided = 0
        /// Of those, the ones that changed nothing and were decided by confirmations alone.
        public var confirmedUnchanged = 0

        public init(oneRoundTripStarts: Int = 0, oneRoundTripDecided: Int = 0, confirmedUnchanged: Int = 0) {
            self.oneRoundTripStarts = oneRoundTripStarts
            self.oneRoundTripDecided = oneRoundTripDecided
            self.confirmedUnchanged = confirmedUnchanged
        }
    }

    public let configuration: Configuration
    public let node: String
    public let incarnation: UInt64
    private let nodeID: NodeID
    private var nextSequence: UInt64 = 1
    private var highestCounterSeen: UInt64 = 0
    private var random: UInt64
    private var inFlight: [String: Attempt] = [:]
    private var queued: [String: [Pending]] = [:]
    /// Per key: a ballot that a majority promised while accepting `value` (this proposer's last
    /// write) at the ballot before it.
    private var promisedAhead: [String: PromisedAhead] = [:]
    public private(set) var statistics = Statistics()

    /// `incarnation` must differ on every start of the node (the shell persists a restart count):
    /// operation ids, which tell a proposer its own writes apart, must never repeat.
    /// `ballotFloor`: a ballot counter at least as high as most this node used before (e.g. the
    /// highest promised by the local acceptor); lower ballots would only be rejected.
    public init(node: String, incarnation: UInt64, configuration: Configuration, ballotFloor: UInt64 = 0) {
        self.node = node
        self.incarnation = incarnation
        self.nodeID = NodeID(name: node)
        self.configuration = configuration
        self.highestCounterSeen = ballotFloor
        self.random = (nodeID.rawValue ^ incarnation &* 0x9E37_79B9_7F4A_7C15) | 1
    }

    // MARK: Inputs

    /// Starts `operation` on `key`. Its outcome arrives later as a `.completed` output (at once
    /// if it is refused).
    public mutating func submit(_ operation: RegisterOperation, key: String, at now: UInt64) -> (OperationID, [Output]) {
        let id = OperationID(node: nodeID, incarnation: incarnation, sequence: nextSequence)
        nextSequence += 1
        let pending = Pending(id: id, key: key, operation: operation, submitted: now,
                              deadline: now + configuration.operationTimeoutMilliseconds)
        if inFlight[key] == nil {
            return (id, start(pending, at: now))
        }
        guard queued[key, default: []].count < configuration.maxQueuedPerKey else {
            return (id, [.completed(id, key: key, operation, .unavailable(
                "more than \(configuration.maxQueuedPerKey) operations are already waiting for key \(key) on this node; retry once they finish"))])
        }
        queued[key, default: []].append(pending)
        return (id, [])
    }

    /// Handles a reply from an acceptor; other messages are ignored.
    public mutating func receive(_ message: QuorumMessage, from acceptor: String, at now: UInt64) -> [Output] {
        switch message {
        case .promise(let key, let ballot, let accepted, let remaining):
            guard var attempt = inFlight[key], attempt.ballot == ballot, case .preparing(var promises) = attempt.phase,
                configuration.members.contains(acceptor)
            else { return [] }
            promises[acceptor] = Promise(accepted: accepted, leaseRemaining: remaining)
            attempt.phase = .preparing(promises)
            inFlight[key] = attempt
            return promises.count >= configuration.quorum ? propose(key: key, promises: promises, at: now) : []
        case .accepted(let key, let ballot, let promisedNext):
            guard var attempt = inFlight[key], attempt.ballot == ballot, case .accepting(let outcome, var acks) = attempt.phase,
                configuration.members.contains(acceptor)
            else { return [] }
            acks.insert(acceptor)
            if promisedNext, attempt.next != nil { attempt.nextPromises.insert(acceptor) }
            attempt.phase = .accepting(outcome, acks)
            inFlight[key] = attempt
            guard acks.count >= configuration.quorum else { return [] }
            // Kept only when a majority promised the next ballot: that is phase 1 of the next
            // operation, done, and every promise in it reports this very value at this ballot.
            if let next = attempt.next, attempt.nextPromises.count >= configuration.quorum, let value = attempt.proposedValue {
                promisedAhead[key] = PromisedAhead(ballot: next, value: value, promisedAt: now)
            }
            if attempt.startedAhead { statistics.oneRoundTripDecided += 1 }
            return finish(key: key, outcome: complete(outcome, attempt.pending, at: now), at: now)
        case .confirmed(let key, let ballot, let nonce):
            guard var attempt = inFlight[key], attempt.ballot == ballot, nonce == attempt.pending.id.sequence,
                case .confirming(let ahead, let outcome, var confirmations) = attempt.phase,
                configuration.members.contains(acceptor)
            else { return [] }
            confirmations.insert(acceptor)
            attempt.phase = .confirming(ahead, outcome, confirmations)
            inFlight[key] = attempt
            guard confirmations.count >= configuration.quorum else { return [] }
            // The promise stands at a majority, so it still serves the next operation, with a
            // view as fresh as this round.
            promisedAhead[key] = PromisedAhead(ballot: ahead.ballot, value: ahead.value, promisedAt: attempt.roundStarted)
            statistics.oneRoundTripDecided += 1
            statistics.confirmedUnchanged += 1
            return finish(key: key, outcome: outcome, at: now)
        case .reject(let key, let ballot, let highestSeen):
            guard var attempt = inFlight[key], attempt.ballot == ballot, configuration.members.contains(acceptor) else {
                highestCounterSeen = max(highestCounterSeen, highestSeen.counter)
                // Someone prepared past the ballot promised in advance: an accept with it would
                // be refused here, so the next operation had better start with both phases.
                if let ahead = promisedAhead[key], highestSeen > ahead.ballot { promisedAhead[key] = nil }
                return []
            }
            // Retry ahead of the ballots others are about to use for fresh operations, further
            // with every lost round, so that a busy key cannot starve one proposer.
            highestCounterSeen = max(highestCounterSeen, highestSeen.counter + 2 * UInt64(min(attempt.round, 16)))
            switch attempt.phase {
            case .preparing, .accepting, .confirming:
                // A majority may still answer; give up on the round only once it cannot.
                attempt.rejections.insert(acceptor)
                if attempt.rejections.count > configuration.members.count - configuration.quorum {
                    attempt.phase = .backingOff(until: now + backoff(round: attempt.round))
                }
                inFlight[key] = attempt
            case .backingOff:
                break
            }
            return []
        case .prepare, .accept, .confirm:
            return []
        }
    }

    /// Retries rounds that timed out or backed off, and ends operations past their deadline.
    public mutating func tick(at now: UInt64) -> [Output] {
        var outputs: [Output] = []
        for key in inFlight.keys.sorted() {
            guard let attempt = inFlight[key] else { continue }
            if now >= attempt.pending.deadline {
                let outcome: RegisterOutcome = attempt.proposedChange != nil
                    ? .indeterminate("no quorum confirmed the change within \(configuration.operationTimeoutMilliseconds) ms; it may or may not have been applied")
                    : .unavailable("no quorum of \(configuration.quorum) of \(configuration.members.count) nodes answered within \(configuration.operationTimeoutMilliseconds) ms")
                outputs += finish(key: key, outcome: outcome, at: now)
                continue
            }
            switch attempt.phase {
            case .backingOff(let until) where now >= until:
                outputs += round(key: key, at: now)
            case .preparing, .accepting, .confirming:
                if now >= attempt.roundStarted + configuration.roundTimeoutMilliseconds {
                    outputs += round(key: key, at: now)
                }
            case .backingOff:
                break
            }
        }
        return outputs
    }

    // MARK: Rounds

    private struct Pending: Sendable {
        var id: OperationID
        var key: String
        var operation: RegisterOperation
        var submitted: UInt64
        var deadline: UInt64
    }

    private struct Promise: Sendable {
        var accepted: AcceptedValue?
        var leaseRemaining: UInt64
    }

    private enum Phase: Sendable {
        case preparing([String: Promise])
        case accepting(RegisterOutcome, Set<String>)
        /// Waiting for a majority to confirm the promise given in advance (`PromisedAhead`); the
        /// outcome to report then, and who confirmed.
        case confirming(PromisedAhead, RegisterOutcome, Set<String>)
        case backingOff(until: UInt64)
    }

    private struct Attempt: Sendable {
        var pending: Pending
        var ballot: Ballot
        var round: Int
        var roundStarted: UInt64
        var phase: Phase
        /// Acceptors that rejected the current round.
        var rejections: Set<String> = []
        /// The value the current round asks acceptors to accept (once in phase 2).
        var proposedValue: RegisterValue?
        /// The ballot the current round's accepts also prepare, and who promised it.
        var next: Ballot?
        var nextPromises: Set<String> = []
        /// The current round started at phase 2 with a ballot promised in advance.
        var startedAhead = false
        /// The change a round proposed that may still be chosen: the version it was based on and
        /// the outcome it would report. While set, a failure is `indeterminate`; it is cleared
        /// once another writer is seen to hold that version (ours can then never be chosen).
        var proposedChange: (baseVersion: UInt64, outcome: RegisterOutcome)?
    }

    /// A change proposed on a stale view (others wrote since) is refused, and the retry must
    /// then tell from the register's recent writers whether it was chosen after all: beyond
    /// ``RegisterValue/writerHistory`` writes it cannot, and the operation ends indeterminate.
    /// So a promise given in advance serves a change only while it is as fresh as a retried
    /// round's view would be (`promisedAt` + the round timeout); reads and compare-and-sets
    /// that change nothing may use it at any age — on a stale view they are simply refused.
    private struct PromisedAhead: Sendable {
        var ballot: Ballot
        var value: RegisterValue
        var promisedAt: UInt64
    }

    private mutating func start(_ pending: Pending, at now: UInt64) -> [Output] {
        let key = pending.key
        inFlight[key] = Attempt(pending: pending, ballot: .zero, round: 0, roundStarted: now, phase: .backingOff(until: now))
        // Used once at most (unless confirmed): whatever happens to this round, the ballot is spent.
        if let ahead = promisedAhead.removeValue(forKey: key), Self.fitsOneRoundTrip(pending.operation, ahead.value) {
            let applied = Self.apply(pending.operation, to: ahead.value, leaseRemaining: 0)
            if applied.newContent == nil || now < ahead.promisedAt + configuration.roundTimeoutMilliseconds {
                inFlight[key]!.ballot = ahead.ballot
                inFlight[key]!.round = 1
                inFlight[key]!.startedAhead = true
                statistics.oneRoundTripStarts += 1
                if applied.newContent == nil {
                    inFlight[key]!.phase = .confirming(ahead, applied.outcome, [])
                    return configuration.members.map {
                        .send(.confirm(key: key, ballot: ahead.ballot, nonce: pending.id.sequence), to: $0)
                    }
                }
                return propose(key: key, current: ahead.value, leaseRemaining: 0, at: now)
            }
        }
        return round(key: key, at: now)
    }

    /// Reads and compare-and-sets of a plain value may skip phase 1; lease operations need the
    /// acceptors' remaining lease times, which only a fresh promise reports.
    private static func fitsOneRoundTrip(_ operation: RegisterOperation, _ value: RegisterValue) -> Bool {
        guard value.lease == nil else { return false }
        switch operation {
        case .read, .compareAndSet: return true
        case .acquireLease, .renewLease, .releaseLease: return false
        }
    }

    private mutating func round(key: String, at now: UInt64) -> [Output] {
        guard var attempt = inFlight[key] else { return [] }
        highestCounterSeen += 1
        attempt.ballot = Ballot(counter: highestCounterSeen, node: nodeID)
        attempt.round += 1
        attempt.roundStarted = now
        attempt.phase = .preparing([:])
        attempt.rejections = []
        attempt.startedAhead = false
        inFlight[key] = attempt
        return configuration.members.map { .send(.prepare(key: key, ballot: attempt.ballot), to: $0) }
    }

    private mutating func propose(key: String, promises: [String: Promise], at now: UInt64) -> [Output] {
        let newest = promises.values.compactMap(\.accepted).max { $0.ballot < $1.ballot }
        let current = newest?.value ?? .initial
        // The lease is live while any acceptor that holds this very grant still times it (the
        // majority that accepted it intersects this one).
        var leaseRemaining: UInt64 = 0
        if let lease = current.lease, lease.holder != nil {
            leaseRemaining = promises.values.filter { $0.accepted?.value.lease == lease }.map(\.leaseRemaining).max() ?? 0
        }
        return propose(key: key, current: current, leaseRemaining: leaseRemaining, at: now)
    }

    /// Phase 2: applies the operation to `current`, the value phase 1 (or the promise given in
    /// advance) found, and asks every acceptor to accept the result.
    private mutating func propose(key: String, current: RegisterValue, leaseRemaining: UInt64, at now: UInt64) -> [Output] {
        guard var attempt = inFlight[key] else { return [] }
        var proposed = current
        var hold = leaseRemaining
        var reported: RegisterOutcome?
        if let earlier = attempt.proposedChange, current.version > earlier.baseVersion {
            // The version our earlier round proposed is taken: by us (report it) or by someone
            // else (ours can then never be chosen: apply the operation afresh). If the register
            // no longer remembers who wrote it, saying either way would be a guess.
            switch current.writer(ofVersion: earlier.baseVersion + 1) {
            case attempt.pending.id?:
                reported = earlier.outcome
            case _?:
                attempt.proposedChange = nil
            case nil:
                return finish(key: key, outcome: .indeterminate(
                    "the register changed many times while this operation was retried; it may or may not have been applied"), at: now)
            }
        }
        if reported == nil {
            let applied = Self.apply(attempt.pending.operation, to: current, leaseRemaining: leaseRemaining)
            reported = applied.outcome
            if let content = applied.newContent {
                proposed = current.changed(to: content, by: attempt.pending.id)
                hold = proposed.lease?.ttlMilliseconds ?? 0
                attempt.proposedChange = (current.version, applied.outcome)
            }
        }
        let outcome = reported!
        attempt.proposedValue = proposed
        attempt.nextPromises = []
        attempt.next = nil
        if configuration.oneRoundTrip, proposed.lease == nil, promisedAhead.count < configuration.maxPromisedAheadKeys {
            highestCounterSeen += 1
            attempt.next = Ballot(counter: highestCounterSeen, node: nodeID)
        }
        attempt.phase = .accepting(outcome, [])
        inFlight[key] = attempt
        return configuration.members.map {
            .send(.accept(key: key, ballot: attempt.ballot, value: proposed, leaseHoldMilliseconds: hold, nextBallot: attempt.next), to: $0)
        }
    }

    /// Applies `operation` to the current value: the new content to propose (nil: no change) and
    /// the outcome to report once it is accepted.
    static func apply(
        _ operation: RegisterOperation, to current: RegisterValue, leaseRemaining: UInt64
    ) -> (newContent: RegisterValue.Content?, outcome: RegisterOutcome) {
        switch operation {
        case .read:
            return (nil, .value(current))
        case .compareAndSet(let expected, let value):
            if case .lease = current.content { return (nil, .invalid("the key holds a lease, not a value")) }
            guard current.version == expected else { return (nil, .conflict(current)) }
            return (.data(value), .written(RegisterValue(version: current.version + 1, content: .data(value))))
        case .acquireLease(let holder, let ttl):
            let record: LeaseRecord
            switch current.content {
            case .data: return (nil, .invalid("the key holds a value, not a lease"))
            case .absent: record = LeaseRecord(holder: nil, token: 0, ttlMilliseconds: ttl)
            case .lease(let existing): record = existing
            }
            if let owner = record.holder, leaseRemaining > 0, owner != holder {
                return (nil, .held(record, remainingMilliseconds: leaseRemaining))
            }
            let granted = record.holder == holder && leaseRemaining > 0
                ? LeaseRecord(holder: holder, token: record.token, ttlMilliseconds: ttl, renewal: record.renewal + 1)
                : LeaseRecord(holder: holder, token: record.token + 1, ttlMilliseconds: ttl)
            return (.lease(granted), .granted(granted, validForMilliseconds: ttl))
        case .renewLease(let holder, let token, let ttl):
            guard let record = current.lease else { return (nil, current.content == .absent ? .notHolder(nil) : .invalid("the key holds a value, not a lease")) }
            guard record.holder == holder, record.token == token else { return (nil, .notHolder(record)) }
            let renewed = LeaseRecord(holder: holder, token: token, ttlMilliseconds: ttl, renewal: record.renewal + 1)
            return (.lease(renewed), .granted(renewed, validForMilliseconds: ttl))
        case .releaseLease(let holder, let token):
            guard let record = current.lease else { return (nil, current.content == .absent ? .notHolder(nil) : .invalid("the key holds a value, not a lease")) }
            guard record.holder == holder, record.token == token else { return (nil, .notHolder(record)) }
            let released = LeaseRecord(holder: nil, token: token, ttlMilliseconds: record.ttlMilliseconds, renewal: record.renewal + 1)
            return (.lease(released), .released(released))
        }
    }

    /// The outcome as reported at completion: a grant's validity shrinks by the time the
    /// operation took and by the drift margin.
    private func complete(_ outcome: RegisterOutcome, _ pending: Pending, at now: UInt64) -> RegisterOutcome {
        guard case .granted(let record, let ttl) = outcome else { return outcome }
        let margin = Double(ttl) * (1 - 2 * configuration.maxClockDrift)
        let elapsed = Double(now - pending.submitted)
        return .granted(record, validForMilliseconds: UInt64(max(0, margin - elapsed)))
    }

    private mutating func finish(key: String, outcome: RegisterOutcome, at now: UInt64) -> [Output] {
        guard let attempt = inFlight.removeValue(forKey: key) else { return [] }
        return [.completed(attempt.pending.id, key: key, attempt.pending.operation, outcome)] + startNextQueued(key: key, at: now)
    }

    private mutating func startNextQueued(key: String, at now: UInt64) -> [Output] {
        var outputs: [Output] = []
        while var waiting = queued.removeValue(forKey: key), !waiting.isEmpty {
            let next = waiting.removeFirst()
            if !waiting.isEmpty { queued[key] = waiting }
            guard now < next.deadline else {
                outputs.append(.completed(next.id, key: key, next.operation, .unavailable(
                    "waited past its deadline behind other operations on key \(key)")))
                continue
            }
            return outputs + start(next, at: now)
        }
        return outputs
    }

    /// Randomized exponential backoff, so that duelling proposers stop colliding: the range
    /// soon exceeds a round trip, so one of them gets a round through undisturbed.
    private mutating func backoff(round: Int) -> UInt64 {
        random = random &* 6364136223846793005 &+ 1442695040888963407
        let ceiling = min(configuration.roundTimeoutMilliseconds, 50 << UInt64(min(round, 6)))
        return (random >> 33) % (ceiling + 1)
    }
}
