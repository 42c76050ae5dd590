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

/// Polls `condition` until it holds or `timeout` passes; returns whether it held (for tests
/// that report the state they saw in their own expectation). See ``pollUntil(_:seconds:_:)``.
public func pollUntil(timeout: Duration = .seconds(30), _ condition: () async -> Bool) async -> Bool {
    do {
        try await pollUntil("", seconds: Double(timeout.components.seconds), { await condition() })
        return true
    } catch {
        return false
    }
}
