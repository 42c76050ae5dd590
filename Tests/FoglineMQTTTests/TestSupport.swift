import FoglineMQTT
import FoglineTesting
import Foundation
import Logging
import Synchronization
import Testing

/// A condition that did not become true before its deadline.
struct DeadlineExceeded: Error, CustomStringConvertible {
    let what: String
    let after: Duration
    var description: String { "Timed out after \(after) waiting for \(what)" }
}

/// Polls `condition` every 20 ms until it holds, or throws after `timeout`. Generous default:
/// CI machines with two loaded cores are slow.
func eventually(
    _ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return }
        if ContinuousClock.now >= deadline { throw DeadlineExceeded(what: what, after: timeout) }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// A logger that stays quiet unless FOGLINE_TEST_LOG=debug|trace is set.
func testLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = ProcessInfo.processInfo.environment["FOGLINE_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
    return logger
}

/// A configuration for `broker` that reconnects quickly, so tests do not wait for backoff.
func fastConfiguration(
    _ broker: MosquittoProcess, clientID: String = MQTTClientConfiguration.randomClientID(prefix: "test")
) -> MQTTClientConfiguration {
    var configuration = MQTTClientConfiguration(host: "127.0.0.1", port: broker.port, clientID: clientID)
    configuration.reconnectBackoff = MQTTReconnectBackoff(minimumDelay: .milliseconds(50), maximumDelay: .milliseconds(500))
    configuration.connectTimeout = .seconds(5)
    configuration.keepAlive = .seconds(10)
    return configuration
}

/// Creates, starts and waits for a client.
func connectedClient(_ configuration: MQTTClientConfiguration, label: String = "test") async throws -> MQTTClient {
    let client = try MQTTClient(configuration: configuration, logger: testLogger("mqtt.\(label)"))
    client.start()
    do {
        try await client.waitUntilConnected(timeout: .seconds(20))
    } catch {
        await client.disconnect()
        throw error
    }
    return client
}

/// Collects what a stream yields, in a background task, for polling assertions.
final class Collector<Element: Sendable>: Sendable {
    private final class Storage: Sendable {
        let items = Mutex<[Element]>([])
    }

    private let storage = Storage()
    private let task: Task<Void, Never>

    init<Stream: AsyncSequence<Element, Never> & Sendable>(_ stream: Stream) {
        let storage = self.storage
        task = Task {
            for await element in stream { storage.items.withLock { $0.append(element) } }
        }
    }

    deinit { task.cancel() }

    var elements: [Element] { storage.items.withLock { $0 } }
    var count: Int { storage.items.withLock { $0.count } }

    /// Waits until at least `count` elements arrived.
    func waitForCount(_ count: Int, timeout: Duration = .seconds(20)) async throws -> [Element] {
        try await eventually("\(count) elements (have \(self.count))", timeout: timeout) { self.count >= count }
        return elements
    }

    /// Waits until an element satisfies `predicate` and returns it.
    func waitFor(_ what: String, timeout: Duration = .seconds(20), _ predicate: @escaping (Element) -> Bool) async throws -> Element {
        var found: Element?
        try await eventually(what, timeout: timeout) {
            found = self.elements.first(where: predicate)
            return found != nil
        }
        guard let found else { throw DeadlineExceeded(what: what, after: timeout) }
        return found
    }
}

/// A temporary directory removed on deinit.
final class TemporaryDirectory: Sendable {
    let url: URL

    init(_ prefix: String = "fogline-mqtt-test") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

/// Runs a command-line tool and throws with its output when it fails. The output goes to a
/// file, not a pipe: reading a pipe to its end would hang if another child inherited it.
@discardableResult
func runTool(_ executable: String, _ arguments: [String]) async throws -> String {
    let directory = try TemporaryDirectory("fogline-tool-output")
    let outputPath = directory.path("output")
    _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
    let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
    defer { try? output.close() }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = output
    process.standardError = output
    try await spawnSafely { try process.run() }
    try await eventually("\(executable) to finish", timeout: .seconds(60)) { !process.isRunning }
    let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    guard process.terminationStatus == 0 else {
        throw ToolFailed(command: ([executable] + arguments).joined(separator: " "), output: text)
    }
    return text
}

struct ToolFailed: Error, CustomStringConvertible {
    let command: String
    let output: String
    var description: String { "`\(command)` failed:\n\(output)" }
}

func executablePath(_ name: String) -> String? {
    ["/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin"].map { "\($0)/\(name)" }
        .first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// A unique topic prefix per test, so parallel tests never see each other's messages even if
/// they shared a broker.
func uniqueTopic(_ name: String) -> String {
    "fogline-test/\(UUID().uuidString.prefix(8))/\(name)"
}

/// Starts a broker (see ``spawnSafely(_:)`` for why this wrapper exists).
func startBroker(extraConfiguration: String = "") async throws -> MosquittoProcess {
    try await spawnSafely { try MosquittoProcess(extraConfiguration: extraConfiguration) }
}

/// `broker.start()` through ``spawnSafely(_:)``.
func restart(_ broker: MosquittoProcess) async throws {
    try await spawnSafely { try broker.start() }
}

/// Runs `spawn`, which starts a child process with Foundation's `Process`, working around
/// three swift-corelibs-foundation problems on Linux:
///
/// - The child inherits the spawning thread's signal mask. Swift concurrency threads are
///   libdispatch workers that block SIGTERM, so a broker started from a test ignores
///   `MosquittoProcess.stop()` (SIGTERM, then wait — also run by its deinit), which then waits
///   forever. The mask is cleared for the few milliseconds of the spawn.
/// - `Process.run()` closes the parent's descriptors in the child by listing /proc/self/fd
///   first; descriptors other threads open in between are inherited (a long-lived broker that
///   inherits another tool's output pipe keeps it open forever). Spawns therefore take turns.
/// - That listing copies each entry's full 256-byte name and can read past the directory
///   buffer and crash (SIGSEGV in memmove) when about a thousand descriptors are open, so no
///   spawn runs while the 1,000-client multiplexer test holds its sockets.
func spawnSafely<T>(_ spawn: () throws -> T) async throws -> T {
    await SpawnLock.shared.lock()
    do {
        let result = try withDefaultSignalMask(spawn)
        await SpawnLock.shared.unlock()
        return result
    } catch {
        await SpawnLock.shared.unlock()
        throw error
    }
}

/// An async mutex, first come first served: held for each process spawn and by tests that
/// open so many descriptors that a spawn could crash.
actor SpawnLock {
    static let shared = SpawnLock()

    private var isLocked = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func lock() async {
        if !isLocked {
            isLocked = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func unlock() {
        if waiters.isEmpty {
            isLocked = false
        } else {
            waiters.removeFirst().resume()  // Ownership passes straight to the next waiter.
        }
    }
}

func withDefaultSignalMask<T>(_ body: () throws -> T) rethrows -> T {
    var empty = sigset_t()
    var previous = sigset_t()
    sigemptyset(&empty)
    pthread_sigmask(SIG_SETMASK, &empty, &previous)
    defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
    return try body()
}
