import FoglineTesting
import Testing

typealias Register = VersionedRegisterSpecification<String>
typealias Lease = LeaseRegisterSpecification

/// Builds a one-key history from `(client, input, invokedAt, response?)`: explicit times make the
/// overlaps in each hand-made case visible at a glance.
private func history<I, O>(
    _ operations: [(Int, I, UInt64, (O, UInt64)?)], key: String = "k"
) -> History<I, O> {
    History(
        operations.map { client, input, invoked, response in
            HistoryOperation(
                id: 0, client: client, key: key, input: input, invokedAt: invoked,
                response: response.map { .init(output: $0.0, at: $0.1) })
        })
}

private let register = LinearizabilityChecker(Register())
private let lease = LinearizabilityChecker(Lease.neverExpiring)
private let expiringLease = LinearizabilityChecker(Lease.expiring)

@Suite("Linearizability checker: hand-made histories")
struct LinearizabilityHandMadeTests {
    @Test("overlapping reads may see the value before or after a concurrent write")
    func overlappingReadsAndWrite() {
        let result = register.check(
            history([
                (1, .cas(expectedVersion: 0, newValue: "a"), 1, (.ok(newVersion: 1), 10)),
                (2, .get, 2, (.value(nil, version: 0), 5)),
                (3, .get, 3, (.value("a", version: 1), 12)),
                (2, .get, 6, (.value(nil, version: 0), 7)),  // still before the write took effect
            ] as [(Int, Register.Input, UInt64, (Register.Output, UInt64)?)]))
        #expect(result.isLinearizable, "\(result)")
    }

    @Test("concurrent CAS: a valid order exists that is not the invocation order")
    func concurrentCAS() {
        let result = register.check(
            history([
                (1, .cas(expectedVersion: 1, newValue: "c"), 1, (.ok(newVersion: 2), 8)),
                (2, .cas(expectedVersion: 0, newValue: "b"), 2, (.conflict(currentVersion: 1), 9)),
                (3, .cas(expectedVersion: 0, newValue: "a"), 3, (.ok(newVersion: 1), 10)),
                (4, .get, 11, (.value("c", version: 2), 12)),
            ] as [(Int, Register.Input, UInt64, (Register.Output, UInt64)?)]))
        #expect(result.isLinearizable, "\(result)")
    }

    @Test("a pending write that took effect explains a later read")
    func pendingTookEffect() {
        let result = register.check(
            history([
                (1, .cas(expectedVersion: 0, newValue: "a"), 1, nil),
                (2, .get, 2, (.value(nil, version: 0), 3)),
                (2, .get, 4, (.value("a", version: 1), 5)),
                (3, .cas(expectedVersion: 1, newValue: "b"), 6, (.ok(newVersion: 2), 7)),
            ] as [(Int, Register.Input, UInt64, (Register.Output, UInt64)?)]))
        #expect(result.isLinearizable, "\(result)")
    }

    @Test("a pending write that never took effect is fine too")
    func pendingNeverTookEffect() {
        let result = register.check(
            history([
                (1, .cas(expectedVersion: 0, newValue: "a"), 1, nil),
                (1, .get, 2, nil),  // a timed-out read
                (2, .get, 5, (.value(nil, version: 0), 6)),
                (3, .cas(expectedVersion: 0, newValue: "b"), 7, (.ok(newVersion: 1), 8)),
                (2, .get, 9, (.value("b", version: 1), 10)),
            ] as [(Int, Register.Input, UInt64, (Register.Output, UInt64)?)]))
        #expect(result.isLinearizable, "\(result)")
    }

    @Test("keys are independent: each key's sub-history is checked on its own")
    func perKey() {
        var recorded = History<Register.Input, Register.Output>()
        let a = recorded.invoke(client: 1, key: "x", .cas(expectedVersion: 0, newValue: "1"))
        let b = recorded.invoke(client: 2, key: "y", .cas(expectedVersion: 0, newValue: "2"))
        recorded.complete(b, .ok(newVersion: 1))
        recorded.complete(a, .ok(newVersion: 1))
        recorded.sequential(client: 3, key: "x", .get, .value("1", version: 1))
        recorded.sequential(client: 3, key: "y", .get, .value("2", version: 1))
        #expect(register.check(recorded).isLinearizable)
        recorded.sequential(client: 3, key: "y", .get, .value("1", version: 1))
        #expect(register.check(recorded).violation?.key == "y")
    }

    @Test("stale read after a completed write is rejected, with the key and the longest prefix")
    func staleRead() throws {
        let result = register.check(
            history([
                (1, .cas(expectedVersion: 0, newValue: "a"), 1, (.ok(newVersion: 1), 2)),
                (2, .get, 3, (.value(nil, version: 0), 4)),
            ] as [(Int, Register.Input, UInt64, (Register.Output, UInt64)?)], key: "door"))
        let violation = try #require(result.violation, "\(result)")
        #expect(violation.key == "door")
        #expect(violation.longestPrefix.map(\.id) == [0])
        #expect(violation.stuckOperation?.id == 1)
        #expect(violation.description.contains("key \"door\""))
        #expect(violation.concurrentWithStuck.isEmpty)
    }

    @Test("a violation's description stays short for a long history and names what overlaps")
    func longViolationDescription() throws {
        var recorded = History<Register.Input, Register.Output>()
        for version in 0..<100 {
            recorded.sequential(client: 1, key: "k", .cas(expectedVersion: UInt64(version), newValue: "v\(version)"), .ok(newVersion: UInt64(version + 1)))
        }
        let read = recorded.invoke(client: 2, key: "k", .get)
        let write = recorded.invoke(client: 3, key: "k", .cas(expectedVersion: 100, newValue: "w"))
        recorded.complete(read, .value("v7", version: 8))
        recorded.complete(write, .ok(newVersion: 101))
        let violation = try #require(register.check(recorded).violation)
        #expect(violation.longestPrefix.count == 101)
        #expect(violation.stuckOperation?.id == read)
        #expect(violation.concurrentWithStuck.isEmpty)  // the write is in the prefix
        #expect(violation.description.count < 1_500, "\(violation.description.count) characters")
        #expect(violation.description.contains("get -> value(v7, v8)"))
    }

    @Test("two CAS with the same expected version cannot both succeed")
    func doubleCAS() {
        let result = register.check(
            history([
                (1, .cas(expectedVersion: 0, newValue: "a"), 1, (.ok(newVersion: 1), 5)),
                (2, .cas(expectedVersion: 0, newValue: "b"), 2, (.ok(newVersion: 1), 6)),
            ] as [(Int, Register.Input, UInt64, (Register.Output, UInt64)?)]))
        #expect(result.isViolation, "\(result)")
    }

    @Test("a read of a value never written is rejected")
    func phantomRead() {
        let result = register.check(
            history([
                (1, .cas(expectedVersion: 0, newValue: "a"), 1, nil),
                (2, .get, 2, (.value("z", version: 1), 3)),
            ] as [(Int, Register.Input, UInt64, (Register.Output, UInt64)?)]))
        #expect(result.isViolation, "\(result)")
    }

    @Test("a lost update (a later read returns the overwritten value) is rejected")
    func lostUpdate() {
        let result = register.check(
            history([
                (1, .cas(expectedVersion: 0, newValue: "a"), 1, (.ok(newVersion: 1), 2)),
                (2, .cas(expectedVersion: 1, newValue: "b"), 3, (.ok(newVersion: 2), 4)),
                (3, .get, 5, (.value("a", version: 1), 6)),
            ] as [(Int, Register.Input, UInt64, (Register.Output, UInt64)?)]))
        #expect(result.isViolation, "\(result)")
    }

    @Test("a pending write cannot take effect and then un-happen")
    func pendingCannotUndo() {
        let result = register.check(
            history([
                (1, .cas(expectedVersion: 0, newValue: "a"), 1, nil),
                (2, .get, 5, (.value("a", version: 1), 6)),
                (3, .get, 7, (.value(nil, version: 0), 8)),
            ] as [(Int, Register.Input, UInt64, (Register.Output, UInt64)?)]))
        #expect(result.isViolation, "\(result)")
    }

    @Test("lease: overlapping acquires with a pending grant whose token a release reveals")
    func leaseLinearizable() {
        let operations: [(Int, Lease.Input, UInt64, (Lease.Output, UInt64)?)] = [
            (1, .acquire(holder: "A"), 1, nil),
            (2, .acquire(holder: "B"), 2, (.held(by: "A"), 3)),
            (1, .release(holder: "A", token: 7), 4, (.ok, 5)),
            (2, .acquire(holder: "B"), 6, (.granted(token: 8), 9)),
            (3, .acquire(holder: "C"), 7, (.held(by: "B"), 10)),
            (2, .acquire(holder: "B"), 11, (.granted(token: 8), 12)),
            (3, .release(holder: "C", token: 8), 13, (.notHolder, 14)),
        ]
        let result = lease.check(history(operations))
        #expect(result.isLinearizable, "\(result)")
        #expect(expiringLease.check(history(operations)).isLinearizable)
    }

    @Test("lease: a token going backwards is rejected, even when leases may expire")
    func tokenBackwards() {
        let operations: [(Int, Lease.Input, UInt64, (Lease.Output, UInt64)?)] = [
            (1, .acquire(holder: "A"), 1, (.granted(token: 5), 2)),
            (1, .release(holder: "A", token: 5), 3, (.ok, 4)),
            (2, .acquire(holder: "B"), 5, (.granted(token: 3), 6)),
        ]
        #expect(lease.check(history(operations)).isViolation)
        #expect(expiringLease.check(history(operations)).isViolation)
    }

    @Test("lease: a second grant while held is a violation unless leases can expire")
    func doubleGrant() {
        let operations: [(Int, Lease.Input, UInt64, (Lease.Output, UInt64)?)] = [
            (1, .acquire(holder: "A"), 1, (.granted(token: 1), 2)),
            (2, .acquire(holder: "B"), 3, (.granted(token: 2), 4)),
        ]
        #expect(lease.check(history(operations)).isViolation)
        #expect(expiringLease.check(history(operations)).isLinearizable)
        // Once B was granted, A's lease had expired: A must get a new, higher token.
        let stale = operations + [(1, .acquire(holder: "A"), 5, (.granted(token: 1), 6))]
        #expect(expiringLease.check(history(stale)).isViolation)
        let fresh = operations + [(1, .acquire(holder: "A"), 5, (.granted(token: 3), 6))]
        #expect(expiringLease.check(history(fresh)).isLinearizable)
    }

    @Test("lease: a pending grant's unseen token still bounds the next one")
    func unseenTokenBounds() {
        let operations: [(Int, Lease.Input, UInt64, (Lease.Output, UInt64)?)] = [
            (1, .acquire(holder: "A"), 1, (.granted(token: 1), 2)),
            (1, .release(holder: "A", token: 1), 3, (.ok, 4)),
            (2, .acquire(holder: "B"), 5, nil),
            (3, .acquire(holder: "C"), 6, (.held(by: "B"), 7)),  // so B was granted some t ≥ 2
        ]
        // C can only be granted after B's lease expired, with a token above B's (≥ 2): so ≥ 3.
        let two = operations + [(3, .acquire(holder: "C"), 8, (.granted(token: 2), 9))]
        let three = operations + [(3, .acquire(holder: "C"), 8, (.granted(token: 3), 9))]
        #expect(expiringLease.check(history(two)).isViolation)
        #expect(expiringLease.check(history(three)).isLinearizable)
    }

    @Test("the step budget turns a pathological history into 'unknown' instead of a hang")
    func budget() {
        // Forty mutually concurrent reads and one impossible one: every subset of the reads is a
        // distinct configuration, so the search is exponential.
        var operations: [(Int, Register.Input, UInt64, (Register.Output, UInt64)?)] = (0..<40).map {
            ($0, .get, UInt64($0), (.value(nil, version: 0), UInt64(100 + $0)))
        }
        operations.append((99, .get, 50, (.value("z", version: 7), 200)))
        let clock = ContinuousClock()
        let started = clock.now
        let result = LinearizabilityChecker(Register(), stepBudget: 50_000).check(history(operations))
        #expect(result.isUnknown, "\(result)")
        #expect(clock.now - started < .seconds(20))
    }
}

/// Random histories generated by running a model of each specification.
@Suite("Linearizability checker: generated histories")
struct LinearizabilityGeneratedTests {
    static let keys = ["k1", "k2", "k3"]
    static let values = ["a", "b", "c", "d"]
    static let holders = ["A", "B", "C"]

    /// A sequential run: each operation's output as the register spec gives it.
    static func registerRun(_ random: inout SeededRandom, count: Int) -> [(key: String, input: Register.Input, output: Register.Output)] {
        let spec = Register()
        var states: [String: Register.State] = [:]
        return (0..<count).map { _ in
            let key = random.pick(keys)
            let state = states[key] ?? spec.initialState
            let input: Register.Input =
                random.chance(0.4)
                ? .get
                : .cas(
                    expectedVersion: random.chance(0.7) ? state.version : UInt64(random.int(in: 0...4)),
                    newValue: random.pick(values))
            let (output, next) = spec.step(state, input)
            states[key] = next
            return (key, input, output)
        }
    }

    /// A sequential run of leases; tokens jump by 1–3, and with `expiring`, leases sometimes lapse.
    static func leaseRun(_ random: inout SeededRandom, count: Int, expiring: Bool) -> [(key: String, input: Lease.Input, output: Lease.Output)] {
        var states: [String: (holder: String?, token: UInt64)] = [:]
        return (0..<count).map { _ in
            let key = random.pick(keys)
            var state = states[key] ?? (nil, 0)
            if expiring && random.chance(0.2) { state.holder = nil }
            let holder = random.pick(holders)
            let input: Lease.Input
            let output: Lease.Output
            if random.chance(0.6) {
                input = .acquire(holder: holder)
                if let current = state.holder {
                    output = current == holder ? .granted(token: state.token) : .held(by: current)
                } else {
                    state = (holder, state.token + UInt64(random.int(in: 1...3)))
                    output = .granted(token: state.token)
                }
            } else {
                let token = random.chance(0.7) ? state.token : UInt64(random.int(in: 0...10))
                input = .release(holder: holder, token: token)
                if state.holder == holder && state.token == token {
                    state.holder = nil
                    output = .ok
                } else {
                    output = .notHolder
                }
            }
            states[key] = state
            return (key, input, output)
        }
    }

    /// Each operation gets a linearization point 10 time units apart and an interval around it
    /// of random width, so operations overlap yet the history stays linearizable; some responses
    /// are dropped (pending).
    static func concurrent<I, O>(_ run: [(key: String, input: I, output: O)], _ random: inout SeededRandom) -> History<I, O> {
        History(
            run.enumerated().map { index, step in
                let point = UInt64(index * 10 + 1_000)
                let invoked = point - UInt64(random.int(in: 0...45))
                let response: HistoryOperation<I, O>.Response? =
                    random.chance(0.1) ? nil : .init(output: step.output, at: point + UInt64(random.int(in: 0...45)))
                return HistoryOperation(id: 0, client: index % 5, key: step.key, input: step.input, invokedAt: invoked, response: response)
            })
    }

    static func sequential<I, O>(_ run: [(key: String, input: I, output: O)]) -> History<I, O> {
        var history = History<I, O>()
        for (index, step) in run.enumerated() { history.sequential(client: index % 5, key: step.key, step.input, step.output) }
        return history
    }

    static func mutated<I, O>(_ history: History<I, O>, at index: Int, to output: O) -> History<I, O> {
        var operations = history.operations
        operations[index].response?.output = output
        return History(operations)
    }

    @Test("histories from running the specs, sequential or overlapping, are linearizable", arguments: PropertySeeds.seeds(default: 40))
    func generatedAreLinearizable(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let registerRun = Self.registerRun(&random, count: 60)
        #expect(register.check(Self.sequential(registerRun)).isLinearizable, "seed \(seed)")
        let overlapping = Self.concurrent(registerRun, &random)
        let result = register.check(overlapping)
        #expect(result.isLinearizable, "seed \(seed): \(result)")

        let leaseRun = Self.leaseRun(&random, count: 60, expiring: false)
        #expect(lease.check(Self.sequential(leaseRun)).isLinearizable, "seed \(seed)")
        let leaseResult = lease.check(Self.concurrent(leaseRun, &random))
        #expect(leaseResult.isLinearizable, "seed \(seed): \(leaseResult)")

        let expiringRun = Self.leaseRun(&random, count: 60, expiring: true)
        #expect(expiringLease.check(Self.sequential(expiringRun)).isLinearizable, "seed \(seed)")
        let expiringResult = expiringLease.check(Self.concurrent(expiringRun, &random))
        #expect(expiringResult.isLinearizable, "seed \(seed): \(expiringResult)")
    }

    @Test("one mutated output in a sequential history is caught", arguments: PropertySeeds.seeds(default: 40))
    func mutationsAreCaught(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let registerHistory = Self.sequential(Self.registerRun(&random, count: 40))
        let leaseHistory = Self.sequential(Self.leaseRun(&random, count: 40, expiring: false))
        let mutants = 25
        var registerCaught = 0
        var leaseCaught = 0
        for _ in 0..<mutants {
            let index = random.int(in: 0...39)
            let original = registerHistory.operations[index].output!
            var output = original
            while output == original {
                output = random.pick([
                    .value(random.chance(0.2) ? nil : random.pick(Self.values), version: UInt64(random.int(in: 0...6))),
                    .ok(newVersion: UInt64(random.int(in: 0...6))), .conflict(currentVersion: UInt64(random.int(in: 0...6))),
                ] as [Register.Output])
            }
            if register.check(Self.mutated(registerHistory, at: index, to: output)).isViolation { registerCaught += 1 }

            let leaseIndex = random.int(in: 0...39)
            let leaseOriginal = leaseHistory.operations[leaseIndex].output!
            var leaseOutput = leaseOriginal
            while leaseOutput == leaseOriginal {
                leaseOutput = random.pick([
                    .granted(token: UInt64(random.int(in: 0...40))), .held(by: random.pick(Self.holders)), .ok, .notHolder,
                ] as [Lease.Output])
            }
            if lease.check(Self.mutated(leaseHistory, at: leaseIndex, to: leaseOutput)).isViolation { leaseCaught += 1 }
        }
        // A deterministic spec on a sequential history has exactly one explanation.
        #expect(registerCaught == mutants, "seed \(seed)")
        // Lease tokens only need to increase, so a changed token can occasionally still fit.
        #expect(leaseCaught >= mutants * 8 / 10, "seed \(seed): caught \(leaseCaught) of \(mutants)")
    }
}

@Suite("Linearizability checker: scale")
struct LinearizabilityScaleTests {
    @Test("a long overlapping history with timeouts is checked well within the default budget")
    func longHistory() {
        var random = SeededRandom(seed: 7)
        let registerRun = LinearizabilityGeneratedTests.registerRun(&random, count: 6_000)
        #expect(register.check(LinearizabilityGeneratedTests.concurrent(registerRun, &random)).isLinearizable)
        let leaseRun = LinearizabilityGeneratedTests.leaseRun(&random, count: 6_000, expiring: false)
        #expect(lease.check(LinearizabilityGeneratedTests.concurrent(leaseRun, &random)).isLinearizable)
        let expiringRun = LinearizabilityGeneratedTests.leaseRun(&random, count: 6_000, expiring: true)
        #expect(expiringLease.check(LinearizabilityGeneratedTests.concurrent(expiringRun, &random)).isLinearizable)
    }
}

/// A hand-made lease validity window for ``LeaseWindowCheck``.
private struct Window: LeaseValidityWindow {
    var key = "k"
    var holder: String
    var token: UInt64
    var start: UInt64
    var end: UInt64
    var description: String { "\(holder)#\(token)[\(start),\(end))" }
}

@Suite("Lease window check: hand-made windows")
struct LeaseWindowCheckTests {
    @Test("successive grants with rising tokens, and one grant seen by two clients, are safe")
    func safeWindows() {
        let windows = [
            Window(holder: "a", token: 1, start: 0, end: 10), Window(holder: "a", token: 1, start: 2, end: 9),
            Window(holder: "b", token: 2, start: 10, end: 20), Window(key: "other", holder: "c", token: 1, start: 5, end: 15),
        ]
        #expect(LeaseWindowCheck.violations(windows).isEmpty)
    }

    @Test("two grants valid at once are an overlap; a lower token after a higher one goes backwards")
    func unsafeWindows() {
        let overlap = LeaseWindowCheck.violations([
            Window(holder: "a", token: 1, start: 0, end: 10), Window(holder: "b", token: 2, start: 9, end: 20),
        ])
        #expect(overlap.map(\.problem) == [.overlap])
        #expect(overlap.first.map { ($0.earlier.holder, $0.later.holder) } ?? ("", "") == ("a", "b"))
        let backwards = LeaseWindowCheck.violations([
            Window(holder: "a", token: 5, start: 0, end: 10), Window(holder: "b", token: 4, start: 10, end: 20),
        ])
        #expect(backwards.map(\.problem) == [.tokenWentBackwards])
    }

    @Test("releasing ends that grant's windows at the release, and an empty window never counts")
    func release() {
        var windows = [
            Window(holder: "a", token: 1, start: 0, end: 100), Window(holder: "a", token: 1, start: 5, end: 50),
            Window(holder: "b", token: 2, start: 30, end: 80), Window(holder: "z", token: 0, start: 40, end: 40),
        ]
        #expect(LeaseWindowCheck.violations(windows).count == 2)
        LeaseWindowCheck.release(&windows, key: "k", holder: "a", token: 1, at: 30)
        #expect(windows.map(\.end) == [30, 30, 80, 40])
        #expect(LeaseWindowCheck.violations(windows).isEmpty)
    }
}
