#if canImport(Glibc)
import Glibc
#endif

/// systemd's notification protocol (sd_notify(3)) spoken natively: one datagram of
/// `KEY=VALUE` lines to the Unix socket named by `$NOTIFY_SOCKET`, so the daemon needs no
/// libsystemd. With `Type=notify` the unit is started once `READY=1` arrives; with `WatchdogSec`
/// systemd restarts the service when `WATCHDOG=1` stops arriving for that long.
public struct SystemdNotifier: Sendable {
    /// The socket path; a leading `@` names a socket in the abstract namespace.
    public let socketPath: String
    /// How often to send `WATCHDOG=1` (half of `$WATCHDOG_USEC`), or nil when the watchdog is off
    /// or meant for another process.
    public let watchdogInterval: Duration?

    /// The notifier systemd asked for through `environment`, or nil when not run by systemd with
    /// `Type=notify` (no `$NOTIFY_SOCKET`).
    public init?(environment: [String: String], pid: Int32? = nil) {
        let pid = pid ?? getpid()
        guard let path = environment["NOTIFY_SOCKET"], path.hasPrefix("/") || path.hasPrefix("@"), path.utf8.count < 108 else {
            return nil
        }
        socketPath = path
        watchdogInterval = Self.watchdogInterval(environment: environment, pid: pid)
    }

    /// Half of `$WATCHDOG_USEC` (systemd's advice), when set and `$WATCHDOG_PID`, if set, is `pid`.
    public static func watchdogInterval(environment: [String: String], pid: Int32) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let microseconds = UInt64(text), microseconds > 0 else { return nil }
        if let owner = environment["WATCHDOG_PID"], Int32(owner) != pid { return nil }
        return .microseconds(Int64(clamping: microseconds / 2))
    }

    /// Sends `state` (newline-separated `KEY=VALUE` assignments, e.g. `READY=1\nSTATUS=…`).
    /// Returns false when the datagram could not be sent; systemd then simply does not hear it.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(socketPath.utf8)
        if pathBytes.first == UInt8(ascii: "@") { pathBytes[0] = 0 }  // abstract namespace
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in pathBytes.enumerated() { buffer[index] = byte }
        }
        // An abstract address's length counts exactly its bytes; a path's includes the NUL.
        let length = MemoryLayout<sa_family_t>.size + pathBytes.count + (pathBytes.first == 0 ? 0 : 1)
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                message.withUnsafeBytes { bytes in
                    sendto(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), socketAddress, socklen_t(length))
                }
            }
        }
        return sent == message.count
    }
}
