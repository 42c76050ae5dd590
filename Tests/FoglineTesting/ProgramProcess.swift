public import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One of the package's programs (`fogline-edge`, `fogline-sim`, …) run for real by a test: found
/// beside the test binary in the build directory, output captured to a file, stopped in deinit.
public final class ProgramProcess: @unchecked Sendable {
    public enum Failure: Error, CustomStringConvertible {
        case notBuilt(String)
        case deadline(String)

        public var description: String {
            switch self {
            case .notBuilt(let name): "\(name) is not built: run `swift build` (make test does) before the tests"
            case .deadline(let what): "timed out waiting for \(what)"
            }
        }
    }

    public let process: ChildProcess
    public let logFile: URL

    /// The build directory holding the test binary and the executables.
    public static var buildDirectory: URL {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        // Inside FoglinePackageTests.xctest on some layouts.
        while directory.pathExtension == "xctest" || directory.lastPathComponent == "Contents" || directory.lastPathComponent == "MacOS" {
            directory.deleteLastPathComponent()
        }
        return directory
    }

    /// `launcher` (e.g. `/usr/bin/env`) is executed with the program's path in front of its
    /// arguments. (A Swift program started directly with libfaketime in `LD_PRELOAD` loses its
    /// arguments; started through a launcher that is preloaded as well, it keeps them.)
    public init(_ name: String, arguments: [String], environment: [String: String] = [:], logDirectory: URL, launcher: String? = nil) throws {
        let binary = Self.buildDirectory.appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { throw Failure.notBuilt(name) }
        logFile = logDirectory.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8)).log")
        process = try ChildProcess(
            path: launcher ?? binary.path, arguments: (launcher == nil ? [] : [binary.path]) + arguments,
            environment: ProcessInfo.processInfo.environment.merging(environment) { $1 }, output: logFile.path)
    }

    public var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// The process's resident set size (VmRSS of /proc/PID/status) in bytes; nil once it exited.
    public var residentBytes: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kilobytes = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { Int($0) }
            return kilobytes.map { $0 * 1_024 }
        }
        return nil
    }

    /// Sends `signal` and waits for the exit; returns the exit status.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM) -> Int32 {
        process.stop(signal: signal)
    }

    /// Runs a program to completion (e.g. `mosquitto_pub`) and returns its exit status and output.
    @discardableResult
    public static func run(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("fogline-run-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        let child = try ChildProcess(path: path, arguments: arguments, output: output.path)
        let status = child.wait()
        return (status, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
    }
}

/// Polls `condition` until it holds or `seconds` pass (never a fixed sleep standing in for a wait).
public func waitUntil(_ what: String, seconds: Double = 20, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if (try? condition()) == true { return }
        usleep(25_000)
    }
    if try condition() { return }
    throw ProgramProcess.Failure.deadline(what)
}
