/// A per-key register with versioned compare-and-set, as the quorum's KV API offers it.
///
/// An absent key has version 0; every successful write increments the version by exactly 1.
/// `cas` succeeds iff `expectedVersion` equals the current version.
public struct VersionedRegisterSpecification<Value: Hashable & Sendable>: DeterministicSpecification {
    /// A read, or a compare-and-set against the version the client last saw.
    public enum Input: Hashable, Sendable, CustomStringConvertible {
        case get
        case cas(expectedVersion: UInt64, newValue: Value)

        public var description: String {
            switch self {
            case .get: "get"
            case .cas(let expected, let value): "cas(v\(expected), \(value))"
            }
        }
    }

    /// What the client saw.
    public enum Output: Hashable, Sendable, CustomStringConvertible {
        /// A read: the value (`nil` when absent) and its version.
        case value(Value?, version: UInt64)
        case ok(newVersion: UInt64)
        case conflict(currentVersion: UInt64)

        public var description: String {
            switch self {
            case .value(let value, let version): "value(\(value.map { "\($0)" } ?? "nil"), v\(version))"
            case .ok(let version): "ok(v\(version))"
            case .conflict(let version): "conflict(v\(version))"
            }
        }
    }

    /// The register's value (`nil` when absent) and version.
    public struct State: Hashable, Sendable, CustomStringConvertible {
        public var value: Value?
        public var version: UInt64

        public init(value: Value?, version: UInt64) {
            self.value = value
            self.version = version
        }

        public var description: String { "\(value.map { "\($0)" } ?? "nil")@v\(version)" }
    }

    public init() {}

    public var initialState: State { State(value: nil, version: 0) }

    public func step(_ state: State, _ input: Input) -> (output: Output, state: State) {
        switch input {
        case .get:
            return (.value(state.value, version: state.version), state)
        case .cas(let expected, let newValue):
            guard expected == state.version else { return (.conflict(currentVersion: state.version), state) }
            return (.ok(newVersion: state.version + 1), State(value: newValue, version: state.version + 1))
        }
    }

    public func isReadOnly(_ input: Input) -> Bool { input == .get }
}
