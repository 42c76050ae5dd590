/// The verdict on a history.
public enum LinearizabilityResult<Input: Hashable & Sendable, Output: Hashable & Sendable>: Sendable {
    /// Every key's sub-history has a valid linearization.
    case linearizable
    /// Some key has none (the first such key, in key order).
    case violation(LinearizabilityViolation<Input, Output>)
    /// No violation found, but the search for these keys ran out of its step budget.
    case unknown(keys: [String])

    public var isLinearizable: Bool {
        if case .linearizable = self { return true }
        return false
    }

    public var isViolation: Bool {
        if case .violation = self { return true }
        return false
    }

    public var isUnknown: Bool {
        if case .unknown = self { return true }
        return false
    }

    public var violation: LinearizabilityViolation<Input, Output>? {
        if case .violation(let violation) = self { return violation }
        return nil
    }
}

extension LinearizabilityResult: CustomStringConvertible {
    public var description: String {
        switch self {
        case .linearizable: "linearizable"
        case .violation(let violation): violation.description
        case .unknown(let keys): "unknown: step budget exhausted for keys \(keys)"
        }
    }
}

/// Why a key's sub-history is not linearizable: the longest order of operations the search could
/// explain, the state it led to, and the completed operation that could not be placed after it.
public struct LinearizabilityViolation<Input: Hashable & Sendable, Output: Hashable & Sendable>: Sendable, CustomStringConvertible {
    public typealias Operation = HistoryOperation<Input, Output>

    public let key: String
    /// The operations of this key.
    public let operationCount: Int
    /// The longest linearizable prefix found, in linearization order.
    public let longestPrefix: [Operation]
    /// The specification state after `longestPrefix`, described.
    public let stateAfterPrefix: String
    /// The earliest-returning completed operation not in `longestPrefix`: nothing legal allows it
    /// (or something that must precede it) to take effect next.
    public let stuckOperation: Operation?
    /// Operations outside the prefix that overlap `stuckOperation` in time: the candidates that
    /// could have gone before it.
    public let concurrentWithStuck: [Operation]

    public init(
        key: String, operationCount: Int, longestPrefix: [Operation], stateAfterPrefix: String, stuckOperation: Operation?,
        concurrentWithStuck: [Operation]
    ) {
        self.key = key
        self.operationCount = operationCount
        self.longestPrefix = longestPrefix
        self.stateAfterPrefix = stateAfterPrefix
        self.stuckOperation = stuckOperation
        self.concurrentWithStuck = concurrentWithStuck
    }

    /// Short enough for a test failure message even for long histories: the tail of the prefix
    /// and a few concurrent operations.
    public var description: String {
        let shown = 8
        let tail = longestPrefix.suffix(shown).map(\.description).joined(separator: ", ")
        let elided = longestPrefix.count > shown ? "…, " : ""
        var text = "key \"\(key)\" is not linearizable: the longest linearizable prefix has \(longestPrefix.count) of \(operationCount) operations [\(elided)\(tail)], leaving state \(stateAfterPrefix)"
        if let stuckOperation { text += "; then \(stuckOperation) cannot be explained" }
        if !concurrentWithStuck.isEmpty {
            let more = concurrentWithStuck.count > shown ? ", …" : ""
            text += " (concurrent with it: \(concurrentWithStuck.prefix(shown).map(\.description).joined(separator: ", "))\(more))"
        }
        return text
    }
}
