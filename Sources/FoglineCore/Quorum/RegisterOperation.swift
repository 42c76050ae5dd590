/// What a client asks of one key of the quorum store. Every operation, reads included, goes
/// through a full CASPaxos round, so each is linearizable.
public enum RegisterOperation: Hashable, Sendable {
    case read
    /// Writes `value` if the key's version is `expectedVersion` (0: the key was never written).
    case compareAndSet(expectedVersion: UInt64, value: [UInt8])
    /// Grants the lease to `holder` if it is free, released or expired; by the current holder it
    /// renews (same token).
    case acquireLease(holder: String, ttlMilliseconds: UInt64)
    /// Extends the grant `token` of `holder`, if nobody else was granted the lease since.
    case renewLease(holder: String, token: UInt64, ttlMilliseconds: UInt64)
    case releaseLease(holder: String, token: UInt64)
}

/// How an operation ended.
public enum RegisterOutcome: Hashable, Sendable {
    /// A read: the current value.
    case value(RegisterValue)
    /// A compare-and-set that applied; the new value.
    case written(RegisterValue)
    /// A compare-and-set whose expected version did not match; the current value.
    case conflict(RegisterValue)
    /// The lease is `holder`'s with this token. The holder may act on it for
    /// `validForMilliseconds` from when it submitted the request, by its own monotonic clock.
    case granted(LeaseRecord, validForMilliseconds: UInt64)
    /// Someone else holds the lease, for at most `remainingMilliseconds` more.
    case held(LeaseRecord, remainingMilliseconds: UInt64)
    case released(LeaseRecord)
    /// Renew or release by someone who does not hold that grant; the current record, if a lease.
    case notHolder(LeaseRecord?)
    /// The operation does not fit the key's content (a lease operation on a data key or back).
    case invalid(String)
    /// No quorum answered before the deadline, and nothing was changed.
    case unavailable(String)
    /// No quorum confirmed in time after a change was proposed: it may or may not have happened.
    case indeterminate(String)
}
