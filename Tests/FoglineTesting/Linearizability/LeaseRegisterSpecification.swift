/// A per-key lease with fencing tokens, as the quorum's lease API offers it.
///
/// Tokens strictly increase across grants of a key (by any amount). An `acquire` by the current
/// holder returns its current token; by anyone else while held, `.held(by:)`. `release` with the
/// holder's own token frees the lease; any other release is `.notHolder`.
///
/// Expiry depends on wall time, which a history does not capture, so there are two variants:
/// - `.neverExpiring`: the lease is held until released (feed it only histories where no lease
///   could have expired);
/// - `.expiring`: the lease may silently expire before any operation, so another holder may be
///   granted at any time, yet tokens must still strictly increase, and a holder whose lease did
///   not expire gets its own token back.
public struct LeaseRegisterSpecification: SequentialSpecification {
    /// Acquire (or re-acquire) the lease for `holder`, or release it with the token it was granted.
    public enum Input: Hashable, Sendable, CustomStringConvertible {
        case acquire(holder: String)
        case release(holder: String, token: UInt64)

        public var description: String {
            switch self {
            case .acquire(let holder): "acquire(\(holder))"
            case .release(let holder, let token): "release(\(holder), t\(token))"
            }
        }
    }

    /// `.granted`/`.held` answer an acquire, `.ok`/`.notHolder` a release.
    public enum Output: Hashable, Sendable, CustomStringConvertible {
        case granted(token: UInt64)
        case held(by: String)
        case ok
        case notHolder

        public var description: String {
            switch self {
            case .granted(let token): "granted(t\(token))"
            case .held(let holder): "held(\(holder))"
            case .ok: "ok"
            case .notHolder: "notHolder"
            }
        }
    }

    /// Who holds the lease and the token bounds. Tokens are at least 1 (the floor starts at 0).
    public struct State: Hashable, Sendable, CustomStringConvertible {
        public var holder: String?
        /// The holder's token; `nil` when free, or when it was granted by an operation whose
        /// response nobody saw (it is then known only to be at least `tokenFloor`).
        public var token: UInt64?
        /// Every later grant's token must be greater than this. After an unseen grant it is
        /// raised by one: the unseen token is > the old floor, and the next one > that.
        public var tokenFloor: UInt64

        public init(holder: String?, token: UInt64?, tokenFloor: UInt64) {
            self.holder = holder
            self.token = token
            self.tokenFloor = tokenFloor
        }

        public var description: String {
            "holder=\(holder ?? "nil") token=\(token.map { "t\($0)" } ?? (holder == nil ? "-" : "?")) floor=t\(tokenFloor)"
        }
    }

    /// Whether the lease may lapse on its own between operations.
    public enum Expiry: Sendable { case never, anyTime }

    public let expiry: Expiry

    public init(expiry: Expiry) {
        self.expiry = expiry
    }

    /// Leases held until released.
    public static let neverExpiring = LeaseRegisterSpecification(expiry: .never)
    /// Leases that may expire between any two operations.
    public static let expiring = LeaseRegisterSpecification(expiry: .anyTime)

    public var initialState: State { State(holder: nil, token: nil, tokenFloor: 0) }

    public func successors(of state: State, applying input: Input, returning output: Output) -> [State] {
        unique(startingStates(state).compactMap { apply(input, output, to: $0) })
    }

    public func successors(of state: State, applying input: Input) -> [State] {
        unique(startingStates(state).flatMap { unseen(input, from: $0) })
    }

    /// The state itself and, if leases can expire, the state after the lease lapsed.
    private func startingStates(_ state: State) -> [State] {
        guard expiry == .anyTime, state.holder != nil else { return [state] }
        return [state, State(holder: nil, token: nil, tokenFloor: state.tokenFloor)]
    }

    private func apply(_ input: Input, _ output: Output, to state: State) -> State? {
        switch (input, output) {
        case (.acquire(let holder), .granted(let token)):
            guard let current = state.holder else {
                return token > state.tokenFloor ? State(holder: holder, token: token, tokenFloor: token) : nil
            }
            guard current == holder else { return nil }
            if let known = state.token { return known == token ? state : nil }
            return token >= state.tokenFloor ? State(holder: holder, token: token, tokenFloor: token) : nil
        case (.acquire(let holder), .held(let by)):
            guard let current = state.holder, current != holder, current == by else { return nil }
            return state
        case (.release(let holder, let token), .ok):
            guard state.holder == holder, matches(token, state) else { return nil }
            return State(holder: nil, token: nil, tokenFloor: max(state.tokenFloor, token))
        case (.release(let holder, let token), .notHolder):
            if state.holder == holder, let known = state.token, known == token { return nil }
            return state
        default:
            return nil
        }
    }

    /// Outcomes of an operation that took effect with an unseen response.
    private func unseen(_ input: Input, from state: State) -> [State] {
        switch input {
        case .acquire(let holder):
            guard state.holder == nil else { return [state] }  // its own token again, or `.held`
            return [State(holder: holder, token: nil, tokenFloor: state.tokenFloor + 1)]
        case .release(let holder, let token):
            guard state.holder == holder, matches(token, state) else { return [state] }
            let released = State(holder: nil, token: nil, tokenFloor: max(state.tokenFloor, token))
            // With an unknown token, the release may have named the wrong one.
            return state.token == nil ? [released, state] : [released]
        }
    }

    /// Whether `token` is (or, when unknown, could be) the holder's token.
    private func matches(_ token: UInt64, _ state: State) -> Bool {
        if let known = state.token { return known == token }
        return token >= state.tokenFloor
    }

    private func unique(_ states: [State]) -> [State] {
        var seen = Set<State>()
        return states.filter { seen.insert($0).inserted }
    }
}
