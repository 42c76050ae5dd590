/// What a lease register holds: the current holder (nil once released or never held), the
/// fencing token of the latest grant, and the grant's time to live.
///
/// The token survives release and expiry, so the next grant's token is always higher: fencing
/// tokens strictly increase per key. `renewal` counts renewals of one grant so that acceptors can
/// tell a renewal (restart their timers) from a write-back of the same grant (keep them).
public struct LeaseRecord: Hashable, Sendable {
    public var holder: String?
    public var token: UInt64
    public var ttlMilliseconds: UInt64
    public var renewal: UInt64

    public init(holder: String?, token: UInt64, ttlMilliseconds: UInt64, renewal: UInt64 = 0) {
        self.holder = holder
        self.token = token
        self.ttlMilliseconds = ttlMilliseconds
        self.renewal = renewal
    }
}
