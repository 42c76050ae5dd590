/// A concurrent history of operations on many keys, recorded as clients invoke operations and
/// (maybe) see their results.
///
/// Record with `invoke` and `complete`; an operation never completed stays pending. Without an
/// explicit time each event gets the next event index, which gives a total order of events.
public struct History<Input: Hashable & Sendable, Output: Hashable & Sendable>: Sendable {
    public typealias Operation = HistoryOperation<Input, Output>

    public private(set) var operations: [Operation] = []
    /// The latest time used, so implicit times continue after explicit ones.
    private var clock: UInt64 = 0

    public init() {}

    /// A history from already-built operations (their `id`s are renumbered to their positions).
    public init(_ operations: [Operation]) {
        self.operations = operations.enumerated().map { index, operation in
            var operation = operation
            operation.id = index
            return operation
        }
        clock = operations.map { max($0.invokedAt, $0.response?.at ?? 0) }.max() ?? 0
    }

    /// Records an invocation and returns its id for `complete`.
    @discardableResult
    public mutating func invoke(client: Int, key: String, _ input: Input, at time: UInt64? = nil) -> Int {
        let at = stamp(time)
        operations.append(Operation(id: operations.count, client: client, key: key, input: input, invokedAt: at, response: nil))
        return operations.count - 1
    }

    /// Records that operation `id` returned `output`.
    public mutating func complete(_ id: Int, _ output: Output, at time: UInt64? = nil) {
        precondition(operations[id].response == nil, "operation \(id) completed twice")
        let at = stamp(time)
        precondition(at >= operations[id].invokedAt, "operation \(id) returns before it is invoked")
        operations[id].response = .init(output: output, at: at)
    }

    /// Appends an operation that ran alone (invoked and returned before anything else): handy
    /// for sequential histories.
    @discardableResult
    public mutating func sequential(client: Int, key: String, _ input: Input, _ output: Output) -> Int {
        let id = invoke(client: client, key: key, input)
        complete(id, output)
        return id
    }

    /// The keys, sorted, and each key's operations in recording order.
    public var operationsByKey: [(key: String, operations: [Operation])] {
        Dictionary(grouping: operations, by: \.key).sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    private mutating func stamp(_ time: UInt64?) -> UInt64 {
        let at = time ?? clock + 1
        clock = max(clock, at)
        return at
    }
}
