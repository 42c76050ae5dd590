public import Logging

/// Keeps systemd's watchdog fed only while the process works: every `interval` it asks for the
/// process's health problems and sends `WATCHDOG=1` when there are none. While there are, it
/// withholds the ping (systemd restarts the service after `WatchdogSec`) and says why once, in
/// `STATUS=`, and in the log.
public struct WatchdogSupervisor: Sendable {
    public let notifier: SystemdNotifier
    public let interval: Duration
    private let logger: Logger

    public init(notifier: SystemdNotifier, interval: Duration, logger: Logger) {
        self.notifier = notifier
        self.interval = interval
        self.logger = logger
    }

    /// Runs until the task is cancelled. `healthProblems` returns what keeps the process from
    /// working, empty while it is healthy.
    public func run(healthProblems: @Sendable () async -> [String]) async {
        var reported: [String] = []
        while !Task.isCancelled {
            let problems = await healthProblems()
            if problems.isEmpty {
                notifier.notify("WATCHDOG=1")
                if !reported.isEmpty {
                    logger.notice("healthy again; watchdog pings resume")
                    notifier.notify("STATUS=healthy again")
                }
            } else if problems != reported {
                logger.error("withholding the watchdog ping", metadata: ["problems": "\(problems.joined(separator: "; "))"])
                notifier.notify("STATUS=unhealthy: \(problems.joined(separator: "; "))")
            }
            reported = problems
            try? await Task.sleep(for: interval)  // the watchdog period, not a wait for a condition
        }
    }
}
