import FoglineCore
import Testing

/// The CASPaxos proposer and acceptor in small, hand-driven scenarios: messages are delivered
/// at once unless a test holds them back. The whole-site simulation (FoglineSiteSimulationTests)
/// covers the same protocols under random faults.
@Suite("Quorum protocol (pure)")
struct QuorumProtocolTests {
    /// Three acceptors and one proposer per node, with a switch per node to cut it off.
    struct Site {
        var acceptors: [String: Acceptor]
        var proposers: [String: Proposer]
        var down: Set<String> = []
        /// Acceptors that ignore an accept's next ballot, like a node from before one-round-trip
        /// CASPaxos.
        var legacy: Set<String> = []
        /// Prepares, accepts and confirms sent by proposers; records acceptors had to persist.
        var prepares = 0
        var accepts = 0
        var confirms = 0
        var persists = 0
        var completed: [OperationID: RegisterOutcome] = [:]
        var now: UInt64 = 1_000

        init(members: [String] = ["a", "b", "c"], ttlDrift: Double = 0.01) {
            var configuration = Proposer.Configuration(members: members)
            configuration.maxClockDrift = ttlDrift
            acceptors = Dictionary(uniqueKeysWithValues: members.map { ($0, Acceptor(at: 1_000)) })
            proposers = Dictionary(uniqueKeysWithValues: members.map { ($0, Proposer(node: $0, incarnation: 1, configuration: configuration)) })
        }

        mutating func submit(_ operation: RegisterOperation, key: String = "k", at node: String) -> OperationID {
            let (id, outputs) = proposers[node]!.submit(operation, key: key, at: now)
            deliver(outputs, from: node)
            return id
        }

        /// Runs an operation to completion; a round rejected by another proposer's higher
        /// ballot is retried after its backoff, so time advances a millisecond at a time until then.
        mutating func run(_ operation: RegisterOperation, key: String = "k", at node: String) -> RegisterOutcome? {
            let id = submit(operation, key: key, at: node)
            for _ in 0..<1_000 where completed[id] == nil { advance(by: 1) }
            return completed[id]
        }

        mutating func advance(by milliseconds: UInt64) {
            now += milliseconds
            for node in proposers.keys.sorted() where !down.contains(node) {
                deliver(proposers[node]!.tick(at: now), from: node)
            }
        }

        mutating func deliver(_ outputs: [Proposer.Output], from proposer: String) {
            var queue = outputs.map { (proposer, $0) }[...]
            while let (from, output) = queue.popFirst() {
                switch output {
                case .completed(let id, _, _, let outcome):
                    completed[id] = outcome
                case .send(var message, let to):
                    switch message {
                    case .prepare: prepares += 1
                    case .accept(let key, let ballot, let value, let hold, _):
                        accepts += 1
                        if legacy.contains(to) { message = .accept(key: key, ballot: ballot, value: value, leaseHoldMilliseconds: hold) }
                    case .confirm: confirms += 1
                    default: break
                    }
                    guard !down.contains(to), !down.contains(from) else { continue }
                    if let step = acceptors[to]!.receive(message, at: now) {
                        if step.persist != nil { persists += 1 }
                        guard !down.contains(from) else { continue }
                        queue.append(contentsOf: proposers[from]!.receive(step.reply, from: to, at: now).map { (from, $0) })
                    }
                }
            }
        }
    }

    @Test("compare-and-set succeeds on the expected version and conflicts otherwise; reads see the latest write")
    func compareAndSet() {
        var site = Site()
        guard case .written(let first)? = site.run(.compareAndSet(expectedVersion: 0, value: [1]), at: "a") else {
            Issue.record("first write failed")
            return
        }
        #expect(first.version == 1 && first.content == .data([1]))
        guard case .conflict(let current)? = site.run(.compareAndSet(expectedVersion: 0, value: [2]), at: "b") else {
            Issue.record("a stale write was not refused")
            return
        }
        #expect(current.version == 1)
        guard case .written? = site.run(.compareAndSet(expectedVersion: 1, value: [3]), at: "c"),
            case .value(let read)? = site.run(.read, at: "a")
        else {
            Issue.record("second write or read failed")
            return
        }
        #expect(read.version == 2 && read.content == .data([3]))
    }

    @Test("a minority cannot decide: unavailable within the deadline, and nothing changed")
    func minority() {
        var site = Site()
        site.down = ["b", "c"]
        let id = site.submit(.compareAndSet(expectedVersion: 0, value: [1]), at: "a")
        #expect(site.completed[id] == nil)
        site.advance(by: 1_000)
        #expect(site.completed[id] == nil)
        site.advance(by: 1_001)
        guard case .unavailable? = site.completed[id] else {
            Issue.record("expected unavailable, got \(String(describing: site.completed[id]))")
            return
        }
        site.down = []
        guard case .value(let value)? = site.run(.read, at: "b") else {
            Issue.record("read failed")
            return
        }
        #expect(value == .initial)
    }

    @Test("a change proposed to a majority whose replies are lost ends indeterminate, never as a guess")
    func indeterminate() {
        var site = Site()
        // a's prepare reaches everyone; then the network to the acceptors fails before accepts.
        let (id, outputs) = site.proposers["a"]!.submit(.compareAndSet(expectedVersion: 0, value: [9]), key: "k", at: site.now)
        var accepts: [Proposer.Output] = []
        for case .send(let message, let to) in outputs {
            let reply = site.acceptors[to]!.receive(message, at: site.now)!.reply
            accepts += site.proposers["a"]!.receive(reply, from: to, at: site.now)
        }
        // Accepts reach b and c but their acknowledgements are lost.
        for case .send(let message, let to) in accepts where to != "a" { _ = site.acceptors[to]!.receive(message, at: site.now) }
        site.down = ["b", "c"]
        site.advance(by: 2_100)
        guard case .indeterminate? = site.completed[id] else {
            Issue.record("expected indeterminate, got \(String(describing: site.completed[id]))")
            return
        }
        // The change was in fact chosen (b and c accepted it): a later read sees it.
        site.down = []
        guard case .value(let value)? = site.run(.read, at: "c") else {
            Issue.record("read failed")
            return
        }
        #expect(value.content == .data([9]))
    }

    @Test("a retry finds its own earlier write and reports it, instead of a conflict with itself")
    func retryRecognisesOwnWrite() {
        var site = Site()
        let (id, outputs) = site.proposers["a"]!.submit(.compareAndSet(expectedVersion: 0, value: [5]), key: "k", at: site.now)
        var accepts: [Proposer.Output] = []
        for case .send(let message, let to) in outputs {
            accepts += site.proposers["a"]!.receive(site.acceptors[to]!.receive(message, at: site.now)!.reply, from: to, at: site.now)
        }
        // Every acceptor accepts, every acknowledgement is lost: the round times out and retries.
        for case .send(let message, let to) in accepts { _ = site.acceptors[to]!.receive(message, at: site.now) }
        site.advance(by: 450)
        guard case .written(let value)? = site.completed[id] else {
            Issue.record("expected the retry to report the write, got \(String(describing: site.completed[id]))")
            return
        }
        #expect(value.version == 1)
    }

    @Test("leases: held by one holder until released or expired; the token only grows; renewals keep it")
    func leases() {
        var site = Site()
        guard case .granted(let first, let validFor)? = site.run(.acquireLease(holder: "x", ttlMilliseconds: 1_000), at: "a") else {
            Issue.record("acquire failed")
            return
        }
        #expect(first.token == 1 && validFor == 980)  // 1 s minus twice the 1 % drift bound
        guard case .held(let record, let remaining)? = site.run(.acquireLease(holder: "y", ttlMilliseconds: 1_000), at: "b") else {
            Issue.record("a held lease was granted to another holder")
            return
        }
        #expect(record.holder == "x" && remaining > 500 && remaining <= 1_000)
        site.now += 600
        guard case .granted(let renewed, _)? = site.run(.renewLease(holder: "x", token: 1, ttlMilliseconds: 1_000), at: "c") else {
            Issue.record("renew failed")
            return
        }
        #expect(renewed.token == 1)
        // 600 ms later the first grant would have expired, the renewal has not.
        site.now += 600
        guard case .held? = site.run(.acquireLease(holder: "y", ttlMilliseconds: 1_000), at: "b") else {
            Issue.record("the renewal did not extend the lease")
            return
        }
        // Nobody renews: after the TTL the lease goes to y with a higher token.
        site.now += 1_001
        guard case .granted(let second, _)? = site.run(.acquireLease(holder: "y", ttlMilliseconds: 1_000), at: "b") else {
            Issue.record("an expired lease was not granted")
            return
        }
        #expect(second.token == 2)
        #expect(site.run(.releaseLease(holder: "x", token: 1), at: "a") == .notHolder(second))
        guard case .released(let released)? = site.run(.releaseLease(holder: "y", token: 2), at: "a"),
            case .granted(let third, _)? = site.run(.acquireLease(holder: "x", ttlMilliseconds: 1_000), at: "c")
        else {
            Issue.record("release or re-acquire failed")
            return
        }
        #expect(released.holder == nil && third.token == 3)
    }

    @Test("failed acquire attempts do not keep a dead holder's lease alive")
    func attemptsDoNotProlong() {
        var site = Site()
        _ = site.run(.acquireLease(holder: "dead", ttlMilliseconds: 1_000), at: "a")
        let acquired = site.now
        var granted: UInt64?
        while granted == nil && site.now < acquired + 3_000 {
            site.now += 100
            if case .granted = site.run(.acquireLease(holder: "y", ttlMilliseconds: 1_000), at: "b") { granted = site.now - acquired }
        }
        // Every attempt wrote the lease back; none may have restarted the acceptors' timers.
        #expect(granted.map { $0 >= 1_000 && $0 < 1_100 } == true, "the lease must move once its TTL has passed, got \(String(describing: granted))")
    }

    @Test("a restarted acceptor keeps its promises and times the lease it accepted from the restart")
    func acceptorRestart() {
        var acceptor = Acceptor(at: 0)
        let ballot = Ballot(counter: 5, node: NodeID(name: "a"))
        let lease = RegisterValue(version: 1, content: .lease(LeaseRecord(holder: "x", token: 1, ttlMilliseconds: 1_000)))
        _ = acceptor.receive(.prepare(key: "k", ballot: ballot), at: 0)
        let record = acceptor.receive(.accept(key: "k", ballot: ballot, value: lease, leaseHoldMilliseconds: 1_000), at: 0)!.persist!
        var restarted = Acceptor(restoring: ["k": record], at: 50_000)
        let lower = Ballot(counter: 4, node: NodeID(name: "b"))
        #expect(restarted.receive(.prepare(key: "k", ballot: lower), at: 50_000)?.reply == .reject(key: "k", ballot: lower, highestSeen: ballot))
        let higher = Ballot(counter: 6, node: NodeID(name: "b"))
        guard case .promise(_, _, let accepted, let remaining)? = restarted.receive(.prepare(key: "k", ballot: higher), at: 50_100)?.reply else {
            Issue.record("no promise")
            return
        }
        #expect(accepted?.value == lease && remaining == 900)
    }

    // MARK: One round trip

    @Test("after a write, the proposer's next operations on the key take one round trip (accepts only)")
    func secondOperationTakesOneRoundTrip() {
        var site = Site()
        guard case .written? = site.run(.compareAndSet(expectedVersion: 0, value: [1]), at: "a") else {
            Issue.record("first write failed")
            return
        }
        #expect(site.prepares == 3 && site.accepts == 3)
        guard case .value(let read)? = site.run(.read, at: "a"), case .written(let second)? = site.run(.compareAndSet(expectedVersion: 1, value: [2]), at: "a") else {
            Issue.record("read or second write failed")
            return
        }
        #expect(read.version == 1 && read.content == .data([1]) && second.version == 2)
        // Two more operations, no more prepares: the read one round of confirms, the write one of
        // accepts.
        #expect(site.prepares == 3 && site.confirms == 3 && site.accepts == 6)
        #expect(site.proposers["a"]!.statistics == .init(oneRoundTripStarts: 2, oneRoundTripDecided: 2, confirmedUnchanged: 1))
        // Another node's view agrees.
        guard case .value(let seen)? = site.run(.read, at: "c") else {
            Issue.record("read at c failed")
            return
        }
        #expect(seen.version == 2 && seen.content == .data([2]))
    }

    @Test("an acceptor that accepts with a next ballot promises it durably: lower prepares are refused, the next accept is taken")
    func acceptorPromisesNextBallot() {
        var acceptor = Acceptor(at: 0)
        let ballot = Ballot(counter: 5, node: NodeID(name: "a"))
        let next = Ballot(counter: 6, node: NodeID(name: "a"))
        let value = RegisterValue(version: 1, content: .data([1]))
        _ = acceptor.receive(.prepare(key: "k", ballot: ballot), at: 0)
        let step = acceptor.receive(.accept(key: "k", ballot: ballot, value: value, leaseHoldMilliseconds: 0, nextBallot: next), at: 0)!
        #expect(step.reply == .accepted(key: "k", ballot: ballot, promisedNext: true))
        #expect(step.persist == Acceptor.Record(promised: next, accepted: AcceptedValue(ballot: ballot, value: value)))
        // After a restart from that record, a prepare between the two ballots is refused and
        // so is a replay of the accept; the next ballot's accept is taken.
        var restarted = Acceptor(restoring: ["k": step.persist!], at: 10)
        let between = Ballot(counter: 5, node: NodeID(name: "z"))
        #expect(restarted.receive(.prepare(key: "k", ballot: between), at: 10)?.reply == .reject(key: "k", ballot: between, highestSeen: next))
        #expect(restarted.receive(.accept(key: "k", ballot: ballot, value: value, leaseHoldMilliseconds: 0), at: 10)?.reply
            == .reject(key: "k", ballot: ballot, highestSeen: next))
        let written = RegisterValue(version: 2, content: .data([2]))
        #expect(restarted.receive(.accept(key: "k", ballot: next, value: written, leaseHoldMilliseconds: 0), at: 10)?.reply
            == .accepted(key: "k", ballot: next, promisedNext: false))
        // A next ballot that is not above the accepted one is not promised.
        #expect(restarted.receive(.accept(key: "k", ballot: next, value: written, leaseHoldMilliseconds: 0, nextBallot: ballot), at: 10)?.reply
            == .accepted(key: "k", ballot: next, promisedNext: false))
    }

    @Test("a competing proposer spends the ballot promised in advance: the next operation is refused, retried in two phases and sees the other write")
    func competingProposerInvalidates() {
        var site = Site()
        guard case .written? = site.run(.compareAndSet(expectedVersion: 0, value: [1]), at: "a"),
            case .written(let theirs)? = site.run(.compareAndSet(expectedVersion: 1, value: [2]), at: "b")
        else {
            Issue.record("writes failed")
            return
        }
        #expect(theirs.version == 2)
        // a still holds the ballot its last accept promised, but b prepared past it: a's
        // compare-and-set against the version a last saw must conflict, not overwrite b's write.
        guard case .conflict(let current)? = site.run(.compareAndSet(expectedVersion: 1, value: [3]), at: "a") else {
            Issue.record("a stale compare-and-set was not refused")
            return
        }
        #expect(current.version == 2 && current.content == .data([2]))
        #expect(site.proposers["a"]!.statistics.oneRoundTripDecided == 0)
        // The full round that found b's write promised a new ballot: one round trip again.
        let accepts = site.accepts
        let prepares = site.prepares
        guard case .value(let read)? = site.run(.read, at: "a") else {
            Issue.record("read failed")
            return
        }
        #expect(read.version == 2 && site.prepares == prepares && site.accepts == accepts && site.confirms == 3)
        #expect(site.proposers["a"]!.statistics.oneRoundTripDecided == 1)
    }

    @Test("without a majority promising the next ballot, and on lease keys, every operation takes both phases")
    func noPromiseNoShortcut() {
        var site = Site()
        site.legacy = ["b", "c"]  // only a promises the next ballot: not a majority
        _ = site.run(.compareAndSet(expectedVersion: 0, value: [1]), at: "a")
        guard case .value(let read)? = site.run(.read, at: "a") else {
            Issue.record("read failed")
            return
        }
        #expect(read.version == 1 && site.prepares == 6 && site.proposers["a"]!.statistics.oneRoundTripStarts == 0)
        site.legacy = []
        guard case .granted(let grant, _)? = site.run(.acquireLease(holder: "x", ttlMilliseconds: 1_000), key: "lease", at: "a"),
            case .granted? = site.run(.renewLease(holder: "x", token: grant.token, ttlMilliseconds: 1_000), key: "lease", at: "a"),
            case .value? = site.run(.read, key: "lease", at: "a")
        else {
            Issue.record("lease operations failed")
            return
        }
        #expect(site.prepares == 15 && site.proposers["a"]!.statistics.oneRoundTripStarts == 0)
    }

    // MARK: Confirmed reads

    @Test("an operation that changes nothing on a promise given in advance writes nothing: a majority confirms the promise, which then serves the next write")
    func unchangedOperationsOnlyConfirm() {
        var site = Site()
        guard case .written? = site.run(.compareAndSet(expectedVersion: 0, value: [1]), at: "a") else {
            Issue.record("first write failed")
            return
        }
        let persists = site.persists
        guard case .value(let read)? = site.run(.read, at: "a"), case .value(let again)? = site.run(.read, at: "a"),
            case .conflict(let current)? = site.run(.compareAndSet(expectedVersion: 0, value: [9]), at: "a")
        else {
            Issue.record("reads or the refused compare-and-set failed")
            return
        }
        #expect(read.content == .data([1]) && again == read && current == read)
        #expect(site.persists == persists && site.confirms == 9 && site.accepts == 3 && site.prepares == 3)
        guard case .written(let second)? = site.run(.compareAndSet(expectedVersion: 1, value: [2]), at: "a") else {
            Issue.record("second write failed")
            return
        }
        #expect(second.version == 2 && site.prepares == 3 && site.accepts == 6)
        #expect(site.proposers["a"]!.statistics == .init(oneRoundTripStarts: 4, oneRoundTripDecided: 4, confirmedUnchanged: 3))
    }

    @Test("after another proposer's write the promise is gone: the confirm is refused and the read takes full rounds and sees that write")
    func confirmRefusedAfterCompetingWrite() {
        var site = Site()
        guard case .written? = site.run(.compareAndSet(expectedVersion: 0, value: [1]), at: "a"),
            case .written? = site.run(.compareAndSet(expectedVersion: 1, value: [2]), at: "b"),
            case .value(let read)? = site.run(.read, at: "a")
        else {
            Issue.record("writes or read failed")
            return
        }
        #expect(read.version == 2 && read.content == .data([2]))
        #expect(site.confirms == 3 && site.proposers["a"]!.statistics.confirmedUnchanged == 0)
    }

    @Test("an acceptor that missed the write refuses to confirm; the majority that has it confirms")
    func confirmNeedsTheWriteNotJustAPromise() {
        var site = Site()
        site.down = ["c"]
        guard case .written? = site.run(.compareAndSet(expectedVersion: 0, value: [1]), at: "a") else {
            Issue.record("write failed")
            return
        }
        site.down = []
        guard case .value(let read)? = site.run(.read, at: "a") else {
            Issue.record("read failed")
            return
        }
        #expect(read.content == .data([1]) && site.proposers["a"]!.statistics.confirmedUnchanged == 1)
        // c, asked about the ballot a holds (the write's next one), says what it promised instead.
        let ahead = Ballot(counter: 2, node: NodeID(name: "a"))
        guard case .reject(_, let ballot, let highest)? = site.acceptors["c"]!.receive(.confirm(key: "k", ballot: ahead, nonce: 1), at: site.now)?.reply else {
            Issue.record("c confirmed a promise it never gave")
            return
        }
        #expect(ballot == ahead && highest == .zero)
    }

    @Test("an acceptor confirms exactly the ballot it promised, persists nothing, and echoes the nonce")
    func acceptorConfirmsExactPromise() {
        var acceptor = Acceptor(at: 0)
        let ballot = Ballot(counter: 5, node: NodeID(name: "a"))
        let next = Ballot(counter: 6, node: NodeID(name: "a"))
        _ = acceptor.receive(.prepare(key: "k", ballot: ballot), at: 0)
        _ = acceptor.receive(.accept(key: "k", ballot: ballot, value: RegisterValue(version: 1, content: .data([1])), leaseHoldMilliseconds: 0, nextBallot: next), at: 0)
        let step = acceptor.receive(.confirm(key: "k", ballot: next, nonce: 42), at: 1)
        #expect(step?.persist == nil && step?.reply == .confirmed(key: "k", ballot: next, nonce: 42))
        #expect(acceptor.receive(.confirm(key: "k", ballot: ballot, nonce: 43), at: 1)?.reply == .reject(key: "k", ballot: ballot, highestSeen: next))
        #expect(acceptor.receive(.confirm(key: "other", ballot: next, nonce: 44), at: 1)?.reply == .reject(key: "other", ballot: next, highestSeen: .zero))
        let higher = Ballot(counter: 7, node: NodeID(name: "b"))
        _ = acceptor.receive(.prepare(key: "k", ballot: higher), at: 2)
        #expect(acceptor.receive(.confirm(key: "k", ballot: next, nonce: 45), at: 2)?.reply == .reject(key: "k", ballot: next, highestSeen: higher))
    }

    @Test("a late answer to an earlier confirmation does not count for the next one")
    func lateConfirmationIgnored() {
        var site = Site()
        guard case .written? = site.run(.compareAndSet(expectedVersion: 0, value: [1]), at: "a"), case .value? = site.run(.read, at: "a") else {
            Issue.record("write or read failed")
            return
        }
        // The next read's confirms are held back; replaying the first read's answers (its nonce
        // was the operation before) must not complete it.
        site.down = ["b", "c"]
        let id = site.submit(.read, at: "a")
        let ahead = Ballot(counter: 2, node: NodeID(name: "a"))  // the first write's next ballot
        var proposer = site.proposers["a"]!
        let stale = proposer.receive(.confirmed(key: "k", ballot: ahead, nonce: id.sequence - 1), from: "b", at: site.now)
        #expect(stale.isEmpty)
        let fresh = proposer.receive(.confirmed(key: "k", ballot: ahead, nonce: id.sequence), from: "b", at: site.now)
        #expect(fresh.contains { if case .completed(id, _, _, .value) = $0 { true } else { false } })
    }
}
