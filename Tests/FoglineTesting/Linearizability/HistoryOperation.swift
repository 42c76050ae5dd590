/// One operation in a concurrent history: a client invoked `input` on `key` at `invokedAt` and
/// either saw `response` or never heard back (a timeout, a crash: the outcome is unknown).
///
/// Times are any monotonic `UInt64` scale: simulated milliseconds or event indices. Operation `a`
/// precedes `b` only if `a` returned strictly before `b` was invoked; equal times count as
/// concurrent, so a coarse clock can only make the checker more lenient, never raise a false alarm.
public struct HistoryOperation<Input: Hashable & Sendable, Output: Hashable & Sendable>: Hashable, Sendable {
    /// What the client saw, and when.
    public struct Response: Hashable, Sendable {
        public var output: Output
        public var at: UInt64

        public init(output: Output, at: UInt64) {
            self.output = output
            self.at = at
        }
    }

    /// Position in the history that recorded it (stable across per-key partitioning).
    public var id: Int
    public var client: Int
    public var key: String
    public var input: Input
    public var invokedAt: UInt64
    /// `nil` while pending: the operation may have taken effect at any point after its
    /// invocation, or not at all.
    public var response: Response?

    public init(id: Int, client: Int, key: String, input: Input, invokedAt: UInt64, response: Response?) {
        precondition(response.map { $0.at >= invokedAt } ?? true, "operation \(id) returns before it is invoked")
        self.id = id
        self.client = client
        self.key = key
        self.input = input
        self.invokedAt = invokedAt
        self.response = response
    }

    public var isPending: Bool { response == nil }
    public var output: Output? { response?.output }
}

extension HistoryOperation: CustomStringConvertible {
    /// `#3 c1 cas(...) -> ok(...) [10, 14]`, or `-> ? [10, …)` when pending.
    public var description: String {
        if let response {
            return "#\(id) c\(client) \(input) -> \(response.output) [\(invokedAt), \(response.at)]"
        }
        return "#\(id) c\(client) \(input) -> ? [\(invokedAt), …)"
    }
}
