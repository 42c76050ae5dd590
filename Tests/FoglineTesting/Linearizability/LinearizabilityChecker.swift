/// Checks a concurrent history against a sequential specification: Wing & Gong's backtracking
/// search for a linearization, with Lowe's memoisation of (linearized set, state) pairs so no
/// configuration is explored twice.
///
/// The history is split per key and each key is checked on its own (linearizability is
/// compositional, and the search is exponential in concurrency, so small partitions matter).
/// Pending operations may take effect anywhere after their invocation, or never.
/// Each key's search is bounded by `stepBudget`; past it the key is reported as unknown.
public struct LinearizabilityChecker<Specification: SequentialSpecification>: Sendable {
    public typealias Input = Specification.Input
    public typealias Output = Specification.Output
    public typealias Operation = HistoryOperation<Input, Output>

    public let specification: Specification
    public let stepBudget: Int

    public init(_ specification: Specification, stepBudget: Int = 1_000_000) {
        self.specification = specification
        self.stepBudget = stepBudget
    }

    /// Checks every key; returns the first violation in key order, else unknown keys if any.
    public func check(_ history: History<Input, Output>) -> LinearizabilityResult<Input, Output> {
        var unknownKeys: [String] = []
        for (key, operations) in history.operationsByKey {
            switch check(key: key, operations: operations) {
            case .linearizable: continue
            case .violation(let violation): return .violation(violation)
            case .unknown(let keys): unknownKeys += keys
            }
        }
        return unknownKeys.isEmpty ? .linearizable : .unknown(keys: unknownKeys)
    }

    /// Checks the operations of one key.
    public func check(key: String, operations allOperations: [Operation]) -> LinearizabilityResult<Input, Output> {
        // A pending read cannot change anything, so whether it happened is irrelevant.
        let operations = allOperations.filter { !($0.isPending && specification.isReadOnly($0.input)) }
        var search = Search(specification: specification, operations: operations, budget: stepBudget)
        switch search.run() {
        case .linearizable:
            return .linearizable
        case .budgetExhausted:
            return .unknown(keys: [key])
        case .stuck:
            let prefix = search.longestPrefix.map { operations[$0] }
            let placed = Set(search.longestPrefix)
            let stuck = operations.indices.filter { !placed.contains($0) && !operations[$0].isPending }
                .min { operations[$0].response!.at < operations[$1].response!.at }
            let concurrent = stuck.map { stuck in
                let window = operations[stuck].invokedAt...operations[stuck].response!.at
                return operations.indices.filter { index in
                    index != stuck && !placed.contains(index)
                        && operations[index].invokedAt <= window.upperBound
                        && (operations[index].response?.at ?? .max) >= window.lowerBound
                }.map { operations[$0] }
            }
            return .violation(
                LinearizabilityViolation(
                    key: key, operationCount: operations.count, longestPrefix: prefix,
                    stateAfterPrefix: String(describing: search.stateAfterLongestPrefix),
                    stuckOperation: stuck.map { operations[$0] }, concurrentWithStuck: concurrent ?? []))
        }
    }
}

/// A call or return in time order.
private struct Event {
    var time: UInt64
    var isCall: Bool
    var operation: Int
}

private struct CacheKey<State: Hashable>: Hashable {
    var linearized: OperationSet
    var state: State
}

/// One key's search. Events (calls and returns) sit in a doubly-linked list; linearizing an
/// operation "lifts" its call and return out of the list, backtracking puts them back.
private struct Search<Specification: SequentialSpecification> {
    typealias Operation = HistoryOperation<Specification.Input, Specification.Output>

    enum Outcome { case linearizable, stuck, budgetExhausted }

    struct Frame {
        var call: Int
        var previousState: Specification.State
        var candidates: [Specification.State]
        var nextCandidate: Int
    }

    let specification: Specification
    let operations: [Operation]
    let budget: Int

    // Event list: index 0 is the head sentinel; events are 1...count; -1 is the end.
    var next: [Int] = []
    var previous: [Int] = []
    var eventOperation: [Int] = []
    var eventIsCall: [Bool] = []
    var returnEvent: [Int?] = []  // per operation

    private(set) var longestPrefix: [Int] = []
    private(set) var stateAfterLongestPrefix: Specification.State

    init(specification: Specification, operations: [Operation], budget: Int) {
        self.specification = specification
        self.operations = operations
        self.budget = budget
        stateAfterLongestPrefix = specification.initialState

        var events: [Event] = []
        for (index, operation) in operations.enumerated() {
            events.append(Event(time: operation.invokedAt, isCall: true, operation: index))
            if let response = operation.response {
                events.append(Event(time: response.at, isCall: false, operation: index))
            }
        }
        // Calls before returns at equal times: touching operations count as concurrent.
        events.sort { ($0.time, $0.isCall ? 0 : 1, $0.operation) < ($1.time, $1.isCall ? 0 : 1, $1.operation) }

        let count = events.count
        next = Array(0...count).map { $0 == count ? -1 : $0 + 1 }
        previous = Array(0...count).map { $0 - 1 }
        eventOperation = [-1] + events.map(\.operation)
        eventIsCall = [false] + events.map(\.isCall)
        returnEvent = Array(repeating: nil, count: operations.count)
        for (position, event) in events.enumerated() where !event.isCall {
            returnEvent[event.operation] = position + 1
        }
    }

    private mutating func unlink(_ event: Int) {
        next[previous[event]] = next[event]
        if next[event] != -1 { previous[next[event]] = previous[event] }
    }

    private mutating func relink(_ event: Int) {
        next[previous[event]] = event
        if next[event] != -1 { previous[next[event]] = event }
    }

    private mutating func lift(_ call: Int) {
        unlink(call)
        if let ret = returnEvent[eventOperation[call]] { unlink(ret) }
    }

    private mutating func unlift(_ call: Int) {
        // Reverse order of `lift`, so each event's neighbours are as they were.
        if let ret = returnEvent[eventOperation[call]] { relink(ret) }
        relink(call)
    }

    mutating func run() -> Outcome {
        var state = specification.initialState
        var linearized = OperationSet(capacity: operations.count)
        var cache = Set<CacheKey<Specification.State>>()
        var stack: [Frame] = []
        var remainingReturns = operations.filter { !$0.isPending }.count
        var event = next[0]
        var steps = 0

        // The first candidate at or after `start` that leads to an unexplored configuration.
        func firstNew(_ candidates: [Specification.State], from start: Int, adding operation: Int) -> Int? {
            let withOperation = linearized.inserting(operation)
            for index in start..<candidates.count
            where cache.insert(CacheKey(linearized: withOperation, state: candidates[index])).inserted {
                return index
            }
            return nil
        }

        while remainingReturns > 0 {
            steps += 1
            if steps > budget { return .budgetExhausted }
            // A completed operation is still in the list, so a return event comes before the end.
            if eventIsCall[event] {
                let index = eventOperation[event]
                let operation = operations[index]
                let candidates =
                    if let output = operation.output {
                        specification.successors(of: state, applying: operation.input, returning: output)
                    } else {
                        specification.successors(of: state, applying: operation.input)
                    }
                if let chosen = firstNew(candidates, from: 0, adding: index) {
                    stack.append(Frame(call: event, previousState: state, candidates: candidates, nextCandidate: chosen + 1))
                    state = candidates[chosen]
                    linearized.insert(index)
                    lift(event)
                    if !operation.isPending { remainingReturns -= 1 }
                    event = next[0]
                } else {
                    event = next[event]
                }
            } else {
                // An operation returned before being linearized: undo the latest choice. The
                // stack is deepest just before backtracking, so remember it only then.
                if stack.count > longestPrefix.count {
                    longestPrefix = stack.map { eventOperation[$0.call] }
                    stateAfterLongestPrefix = state
                }
                guard var frame = stack.popLast() else { return .stuck }
                let index = eventOperation[frame.call]
                state = frame.previousState
                linearized.remove(index)
                unlift(frame.call)
                if !operations[index].isPending { remainingReturns += 1 }
                if let chosen = firstNew(frame.candidates, from: frame.nextCandidate, adding: index) {
                    frame.nextCandidate = chosen + 1
                    stack.append(frame)
                    state = frame.candidates[chosen]
                    linearized.insert(index)
                    lift(frame.call)
                    if !operations[index].isPending { remainingReturns -= 1 }
                    event = next[0]
                } else {
                    event = next[frame.call]
                }
            }
        }
        return .linearizable
    }
}
