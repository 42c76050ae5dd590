import FoglineTesting
import Foundation

/// What the clients of the real-process chaos test (QuorumChaosTests) saw, shared by their
/// threads: every kv and lease operation with its invocation and response times on the test
/// process's monotonic clock (µs since the test started), the lease validity windows the clients
/// believed they had, and the faults injected meanwhile. Then the checks: per-key
/// linearizability, no overlapping lease windows, fencing tokens in order.
final class ChaosRecorder: @unchecked Sendable {
    typealias KVSpec = VersionedRegisterSpecification<String>
    typealias LeaseSpec = LeaseRegisterSpecification

    /// How an operation ended for the client.
    enum Ending<Output> {
        /// A definite answer.
        case output(Output)
        /// It provably changed nothing (connection refused, or 503 "no quorum"): left out of the
        /// history, so the checker tests that claim.
        case unavailable
        /// Outcome unknown (503 "outcome unknown", timeout, connection lost): stays pending.
        case unknown
    }

    struct Record<Input, Output> {
        var client: Int
        var node: Int
        var key: String
        var input: Input
        var invokedAt: UInt64
        var output: Output?
        var respondedAt: UInt64 = 0
        var dropped = false
        var finished = false

        /// Records how the operation ended at `time`.
        mutating func finish(_ ending: Ending<Output>, at time: UInt64) {
            finished = true
            switch ending {
            case .output(let output):
                self.output = output
                respondedAt = time
            case .unavailable: dropped = true
            case .unknown: break
            }
        }
    }

    /// A grant the client acts on from its response until its invocation + the `ttl_ms` the node
    /// reported (the node counts that from the client's request), or until the client invokes
    /// a release of it.
    struct LeaseWindow: LeaseValidityWindow {
        var key: String
        var holder: String
        var token: UInt64
        var start: UInt64
        var end: UInt64
        var node: Int

        var description: String { "\(holder) t\(token) via node \(node) [\(start), \(end)) µs" }
    }

    struct Fault: CustomStringConvertible {
        var what: String
        var start: UInt64
        var end: UInt64?

        var description: String { "\(what) [\(start), \(end.map(String.init) ?? "…")) µs" }
    }

    private let lock = NSLock()
    private let origin = DispatchTime.now().uptimeNanoseconds
    private(set) var kv: [Record<KVSpec.Input, KVSpec.Output>] = []
    private(set) var lease: [Record<LeaseSpec.Input, LeaseSpec.Output>] = []
    private(set) var windows: [LeaseWindow] = []
    private(set) var faults: [Fault] = []

    /// Microseconds since the recorder was made (monotonic).
    var now: UInt64 { (DispatchTime.now().uptimeNanoseconds - origin) / 1_000 }

    // MARK: Recording

    func invokeKV(client: Int, node: Int, key: String, _ input: KVSpec.Input) -> Int {
        lock.withLock {
            kv.append(Record(client: client, node: node, key: key, input: input, invokedAt: now))
            return kv.count - 1
        }
    }

    func completeKV(_ index: Int, _ ending: Ending<KVSpec.Output>) {
        let at = now
        lock.withLock { kv[index].finish(ending, at: at) }
    }

    /// Records a lease operation's invocation; a release first ends the client's windows of
    /// that grant (it stops acting on the lease before asking to release it).
    func invokeLease(client: Int, node: Int, key: String, _ input: LeaseSpec.Input) -> Int {
        lock.withLock {
            let at = now
            if case .release(let holder, let token) = input {
                LeaseWindowCheck.release(&windows, key: key, holder: holder, token: token, at: at)
            }
            lease.append(Record(client: client, node: node, key: key, input: input, invokedAt: at))
            return lease.count - 1
        }
    }

    /// `ttlMilliseconds`: what the node reported with a grant.
    func completeLease(_ index: Int, _ ending: Ending<LeaseSpec.Output>, ttlMilliseconds: UInt64 = 0) {
        let at = now
        lock.withLock {
            lease[index].finish(ending, at: at)
            if case .output(.granted(let token)) = ending, case .acquire(let holder) = lease[index].input {
                let end = lease[index].invokedAt + ttlMilliseconds * 1_000
                if end > at {
                    windows.append(LeaseWindow(key: lease[index].key, holder: holder, token: token, start: at, end: end, node: lease[index].node))
                }
            }
        }
    }

    func beginFault(_ what: String) -> Int {
        lock.withLock {
            faults.append(Fault(what: what, start: now))
            return faults.count - 1
        }
    }

    func endFault(_ index: Int) {
        lock.withLock { faults[index].end = now }
    }

    // MARK: Results

    struct Tally: CustomStringConvertible {
        var operations = 0, answered = 0, unavailable = 0, unknown = 0, grants = 0

        var description: String {
            "\(answered) answered, \(unavailable) unavailable (no quorum / refused), \(unknown) outcome unknown, \(grants) lease grants"
        }
    }

    var tally: Tally {
        lock.withLock {
            var tally = Tally()
            func count<I, O>(_ records: [Record<I, O>]) {
                for record in records {
                    tally.operations += 1
                    if record.output != nil { tally.answered += 1 } else if record.dropped { tally.unavailable += 1 } else { tally.unknown += 1 }
                }
            }
            count(kv)
            count(lease)
            tally.grants = windows.count
            return tally
        }
    }

    var kvHistory: History<KVSpec.Input, KVSpec.Output> { lock.withLock { Self.history(kv) } }
    var leaseHistory: History<LeaseSpec.Input, LeaseSpec.Output> { lock.withLock { Self.history(lease) } }

    private static func history<I, O>(_ records: [Record<I, O>]) -> History<I, O> {
        History(records.filter { !$0.dropped }.enumerated().map { index, record in
            HistoryOperation(
                id: index, client: record.client, key: record.key, input: record.input, invokedAt: record.invokedAt,
                response: record.output.map { .init(output: $0, at: record.respondedAt) })
        })
    }

    /// Every anomaly, described: non-linearizable keys (kv and lease), lease windows of
    /// different grants that overlap in real time, tokens that go backwards. Keys whose search ran
    /// out of budget go to `unchecked`.
    /// Each anomaly comes with the time range (µs) of the operations involved, for `excerpt`.
    func anomalies(stepBudget: Int = 5_000_000) -> (anomalies: [(what: String, key: String, from: UInt64, to: UInt64)], unchecked: [String]) {
        var anomalies: [(what: String, key: String, from: UInt64, to: UInt64)] = []
        func range<I, O>(_ violation: LinearizabilityViolation<I, O>) -> (UInt64, UInt64) {
            var involved: [HistoryOperation<I, O>] = Array(violation.longestPrefix.suffix(4)) + violation.concurrentWithStuck
            if let stuck = violation.stuckOperation { involved.append(stuck) }
            let from = involved.map { $0.invokedAt }.min() ?? 0
            let to = involved.map { $0.response?.at ?? $0.invokedAt }.max() ?? .max
            return (from, to)
        }
        var unchecked: [String] = []
        let kvChecker = LinearizabilityChecker(KVSpec(), stepBudget: stepBudget)
        for (key, operations) in kvHistory.operationsByKey {
            switch kvChecker.check(key: key, operations: operations) {
            case .linearizable: break
            case .violation(let violation):
                let (from, to) = range(violation)
                anomalies.append(("kv: \(violation)", key, from, to))
            case .unknown: unchecked.append("kv \(key)")
            }
        }
        let leaseChecker = LinearizabilityChecker(LeaseSpec.expiring, stepBudget: stepBudget)
        for (key, operations) in leaseHistory.operationsByKey {
            switch leaseChecker.check(key: key, operations: operations) {
            case .linearizable: break
            case .violation(let violation):
                let (from, to) = range(violation)
                anomalies.append(("lease: \(violation)", key, from, to))
            case .unknown: unchecked.append("lease \(key)")
            }
        }
        for violation in LeaseWindowCheck.violations(lock.withLock { windows }) {
            let (a, b) = (violation.earlier, violation.later)
            anomalies.append(("lease \(a.key): \(violation)", a.key, a.start, max(a.end, b.end)))
        }
        return (anomalies, unchecked)
    }

    /// The operations on `key` and the faults overlapping `[from, to]`, for a failure report.
    func excerpt(key: String, from: UInt64, to: UInt64) -> String {
        lock.withLock {
            var lines: [String] = []
            func add<I, O>(_ kind: String, _ records: [Record<I, O>]) {
                for record in records where record.key == key && record.invokedAt <= to && (record.output == nil || record.respondedAt >= from) {
                    let result = record.output.map { "\($0) at \(record.respondedAt)" } ?? (record.dropped ? "unavailable" : "unknown")
                    lines.append("  \(kind) \(record.key) c\(record.client) via node \(record.node): \(record.input) invoked \(record.invokedAt) -> \(result)")
                }
            }
            add("kv", kv)
            add("lease", lease)
            let overlapping = faults.filter { $0.start <= to && ($0.end ?? .max) >= from }
            return (["faults:"] + overlapping.map { "  \($0)" } + ["operations:"] + lines).joined(separator: "\n")
        }
    }

    /// Everything, one line per event, for a file next to the node logs.
    func dump() -> String {
        lock.withLock {
            var lines = faults.map { "fault \($0)" }
            for record in kv {
                lines.append("kv \(record.key) c\(record.client) n\(record.node) \(record.input) [\(record.invokedAt), \(record.output == nil ? "…" : String(record.respondedAt))] -> \(record.output.map { "\($0)" } ?? (record.dropped ? "unavailable" : "unknown"))")
            }
            for record in lease {
                lines.append("lease \(record.key) c\(record.client) n\(record.node) \(record.input) [\(record.invokedAt), \(record.output == nil ? "…" : String(record.respondedAt))] -> \(record.output.map { "\($0)" } ?? (record.dropped ? "unavailable" : "unknown"))")
            }
            lines += windows.map { "window \($0.key) \($0)" }
            return lines.joined(separator: "\n") + "\n"
        }
    }
}
