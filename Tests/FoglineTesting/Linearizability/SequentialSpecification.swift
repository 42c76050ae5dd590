/// The sequential behaviour a concurrent history must be explainable by: a state machine that
/// says which outputs are legal for an input and what state follows.
///
/// Specifications may be nondeterministic (a lease that may expire at any moment): they return
/// every state the object may be in afterwards. States must be `Hashable` for the checker's
/// memoisation, so keep them small and canonical.
public protocol SequentialSpecification: Sendable {
    associatedtype State: Hashable & Sendable
    associatedtype Input: Hashable & Sendable
    associatedtype Output: Hashable & Sendable

    var initialState: State { get }

    /// The possible states after `input` takes effect in `state` and returns `output`; empty if
    /// that output is impossible.
    func successors(of state: State, applying input: Input, returning output: Output) -> [State]

    /// The possible states after `input` takes effect in `state` with an output nobody saw (a
    /// pending operation that did take effect).
    func successors(of state: State, applying input: Input) -> [State]

    /// Whether `input` can never change the state (a read): pending reads are then dropped,
    /// because whether they took effect cannot matter.
    func isReadOnly(_ input: Input) -> Bool
}

extension SequentialSpecification {
    public func isReadOnly(_ input: Input) -> Bool { false }
}

/// A specification with exactly one outcome per input: `step` is all there is to write.
public protocol DeterministicSpecification: SequentialSpecification {
    func step(_ state: State, _ input: Input) -> (output: Output, state: State)
}

extension DeterministicSpecification {
    public func successors(of state: State, applying input: Input, returning output: Output) -> [State] {
        let result = step(state, input)
        return result.output == output ? [result.state] : []
    }

    public func successors(of state: State, applying input: Input) -> [State] {
        [step(state, input).state]
    }
}
