import Dispatch
import Synchronization

/// Runs CPU-heavy synchronous work (a simulation run) off Swift's cooperative thread pool, one at
/// a time on a serial queue, so that async and timing-sensitive tests running beside it (HTTP
/// servers, MQTT clients, peer handshakes) keep a pool thread and a core: a seed that computes for
/// seconds on a pool thread starves them into timeouts on a 2-core machine. Check the results
/// back on the test's task, where `#expect` attributes issues to the test.
public enum OffPool {
    private static let queues = [DispatchQueue(label: "fogline.offpool")]
    private static let next = Atomic<Int>(0)

    public static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        let queue = queues[next.add(1, ordering: .relaxed).oldValue % queues.count]
        return await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: body()) }
        }
    }
}

extension OffPool {
    /// Runs blocking work (a child process, a blocking HTTP request) off the pool; rethrows its error.
    public static func run<T: Sendable>(throwing body: @escaping @Sendable () throws -> T) async throws -> T {
        try await run { Result { try body() } }.get()
    }
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes; returns whether it held.
public func pollUntil(timeout: Duration = .seconds(30), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return await condition()
}
