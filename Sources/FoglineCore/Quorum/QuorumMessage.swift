/// The CASPaxos messages between proposers and acceptors (FoglineWire encodes them as the
/// `Paxos*` bodies of a PeerFrame).
public enum QuorumMessage: Hashable, Sendable {
    /// Phase 1a: promise not to accept lower ballots for `key`, and tell me what you accepted.
    case prepare(key: String, ballot: Ballot)
    /// Phase 1b. `leaseRemaining`: how long, by the acceptor's own monotonic clock, the lease it
    /// accepted stays live (0 when expired or not a lease).
    case promise(key: String, ballot: Ballot, accepted: AcceptedValue?, leaseRemainingMilliseconds: UInt64)
    /// Phase 2a. `leaseHold`: how long an acceptor that does not hold this exact lease grant yet
    /// must consider it live (the full TTL for a new grant, what is left for a write-back).
    /// `nextBallot` (above `ballot`, or nil): also phase 1a of the proposer's next operation on
    /// the key — an acceptor that accepts promises it in the same durable write, so that the
    /// next operation can skip straight to phase 2 (one round trip).
    case accept(key: String, ballot: Ballot, value: RegisterValue, leaseHoldMilliseconds: UInt64, nextBallot: Ballot? = nil)
    /// Phase 2b. `promisedNext`: the acceptor also promised the accept's `nextBallot`, with
    /// this ballot's value as the one it accepted.
    case accepted(key: String, ballot: Ballot, promisedNext: Bool = false)
    /// For an operation that changes nothing (a read, a refused compare-and-set) on a ballot
    /// promised in advance: is `ballot` still the highest this acceptor promised? If so, it still
    /// holds the value the proposer wrote just before, and nothing newer can have been chosen
    /// without a majority promising past it. Changes nothing, so nothing is written. `nonce`
    /// tells this request's answers from those to earlier confirmations of the same promise
    /// (a late or duplicated answer must not count for a later read).
    case confirm(key: String, ballot: Ballot, nonce: UInt64)
    /// The acceptor's promise of `ballot` stands (the answer to ``confirm(key:ballot:nonce:)``).
    case confirmed(key: String, ballot: Ballot, nonce: UInt64)
    /// The acceptor has promised or accepted `highestSeen`, which is above `ballot` (or, to a
    /// ``confirm(key:ballot:nonce:)``, is not `ballot`).
    case reject(key: String, ballot: Ballot, highestSeen: Ballot)

    public var key: String {
        switch self {
        case .prepare(let key, _), .promise(let key, _, _, _), .accept(let key, _, _, _, _), .accepted(let key, _, _),
            .confirm(let key, _, _), .confirmed(let key, _, _), .reject(let key, _, _):
            key
        }
    }
}

/// A value an acceptor accepted, with the ballot it was accepted at.
public struct AcceptedValue: Hashable, Sendable {
    public var ballot: Ballot
    public var value: RegisterValue

    public init(ballot: Ballot, value: RegisterValue) {
        self.ballot = ballot
        self.value = value
    }
}
