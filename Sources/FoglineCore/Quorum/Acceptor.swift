/// The acceptor half of CASPaxos for every key of the site's quorum store.
///
/// A value type: each call takes the local monotonic time and returns, in order, the record to
/// persist durably (fsync) and the reply to send. The shell must persist before it sends — a
/// promise or acceptance that a crash can forget breaks Paxos.
///
/// An accept may carry the proposer's next ballot (``QuorumMessage/accept(key:ballot:value:leaseHoldMilliseconds:nextBallot:)``):
/// accepting it then also promises that ballot, the CASPaxos paper's one-round-trip optimisation.
///
/// A ``QuorumMessage/confirm(key:ballot:nonce:)`` asks whether such a promise still stands, for an
/// operation that changes nothing: answered from memory, nothing persisted (the shell still sends
/// the answer only once the record holding the promise is on disk).
///
/// Leases need one thing besides plain CASPaxos: each acceptor times the lease grant it accepted
/// with its own monotonic clock (PaxosLease). A proposer counts a lease as live while any acceptor
/// of its quorum still times it, so no clocks are compared across nodes.
public struct Acceptor: Sendable {
    /// What survives a crash for one key.
    public struct Record: Hashable, Sendable {
        public var promised: Ballot
        public var accepted: AcceptedValue?

        public init(promised: Ballot, accepted: AcceptedValue?) {
            self.promised = promised
            self.accepted = accepted
        }
    }

    /// The acceptor's answer: persist `persist` (if any) as the record of `reply.key` durably,
    /// then send `reply`.
    public struct Step: Hashable, Sendable {
        public var persist: Record?
        public var reply: QuorumMessage
    }

    private struct KeyState: Sendable {
        var record: Record
        /// Monotonic ms until which the accepted lease grant is live here.
        var leaseLiveUntil: UInt64
    }

    private var keys: [String: KeyState] = [:]

    /// Restores the acceptor after a restart. The timing of accepted lease grants is not
    /// persisted (monotonic time restarts with the process), so each counts as freshly accepted:
    /// it may then look live longer than it is, never shorter.
    public init(restoring records: [String: Record] = [:], at now: UInt64) {
        for (key, record) in records {
            let ttl = record.accepted?.value.lease.flatMap { $0.holder == nil ? nil : $0.ttlMilliseconds } ?? 0
            keys[key] = KeyState(record: record, leaseLiveUntil: now + ttl)
        }
    }

    /// Handles a `prepare` or an `accept`; returns nil for any other message.
    public mutating func receive(_ message: QuorumMessage, at now: UInt64) -> Step? {
        switch message {
        case .prepare(let key, let ballot): prepare(key: key, ballot: ballot, at: now)
        case .accept(let key, let ballot, let value, let hold, let next):
            accept(key: key, ballot: ballot, value: value, hold: hold, next: next, at: now)
        case .confirm(let key, let ballot, let nonce): confirm(key: key, ballot: ballot, nonce: nonce)
        case .promise, .accepted, .confirmed, .reject: nil
        }
    }

    /// Confirms a promise still stands; writes nothing. Only the exact ballot confirms: a lower
    /// promise means this acceptor never accepted the value the proposer wrote with that promise.
    private func confirm(key: String, ballot: Ballot, nonce: UInt64) -> Step {
        let promised = keys[key]?.record.promised ?? .zero
        guard promised == ballot else {
            return Step(persist: nil, reply: .reject(key: key, ballot: ballot, highestSeen: promised))
        }
        return Step(persist: nil, reply: .confirmed(key: key, ballot: ballot, nonce: nonce))
    }

    private mutating func prepare(key: String, ballot: Ballot, at now: UInt64) -> Step {
        var state = keys[key] ?? KeyState(record: Record(promised: .zero, accepted: nil), leaseLiveUntil: 0)
        guard ballot > state.record.promised else {
            return Step(persist: nil, reply: .reject(key: key, ballot: ballot, highestSeen: state.record.promised))
        }
        state.record.promised = ballot
        keys[key] = state
        let remaining = state.leaseLiveUntil > now ? state.leaseLiveUntil - now : 0
        return Step(
            persist: state.record,
            reply: .promise(key: key, ballot: ballot, accepted: state.record.accepted, leaseRemainingMilliseconds: remaining))
    }

    private mutating func accept(key: String, ballot: Ballot, value: RegisterValue, hold: UInt64, next: Ballot?, at now: UInt64) -> Step {
        var state = keys[key] ?? KeyState(record: Record(promised: .zero, accepted: nil), leaseLiveUntil: 0)
        guard ballot >= state.record.promised else {
            return Step(persist: nil, reply: .reject(key: key, ballot: ballot, highestSeen: state.record.promised))
        }
        // A write-back of the grant this acceptor already times keeps its timer: restarting it
        // would let every failed acquire attempt prolong a dead holder's lease.
        let sameGrant = state.record.accepted?.value.lease == value.lease
        if value.lease?.holder == nil {
            state.leaseLiveUntil = 0
        } else if !sameGrant {
            state.leaseLiveUntil = now + hold
        }
        // One-round-trip CASPaxos: the accept also prepares the proposer's next ballot. Nothing
        // above `ballot` is promised here (else this accept would have been refused), so the
        // promise can always be given; it goes into the same record, so it is as durable as the
        // acceptance, and it reports exactly what a separate prepare would have seen right now:
        // this value at this ballot. (No lease timer is involved: a promise starts and stops none.)
        let promised = next.map { max($0, ballot) } ?? ballot
        let promiseNext = promised > ballot
        state.record = Record(promised: promised, accepted: AcceptedValue(ballot: ballot, value: value))
        keys[key] = state
        return Step(persist: state.record, reply: .accepted(key: key, ballot: ballot, promisedNext: promiseNext))
    }
}
