/// How long a client waits before the next connection attempt: capped exponential backoff
/// with jitter.
///
/// The n-th consecutive failure waits `minimumDelay · 2ⁿ`, capped at `maximumDelay`, then
/// shortened by a random fraction of up to `jitter`. The jitter matters when a broker restarts
/// under thousands of devices: without it they all reconnect in the same millisecond.
public struct MQTTReconnectBackoff: Sendable, Hashable {
    /// The delay after a dropped connection and after the first failed attempt.
    public var minimumDelay: Duration
    /// The longest delay between attempts, however many failed.
    public var maximumDelay: Duration
    /// The share of each delay that is randomised, from 0 (none) to 1 (anywhere from 0 to the delay).
    public var jitter: Double

    public init(minimumDelay: Duration = .milliseconds(250), maximumDelay: Duration = .seconds(30), jitter: Double = 0.5) {
        self.minimumDelay = minimumDelay
        self.maximumDelay = maximumDelay
        self.jitter = jitter
    }

    /// The delay before the next attempt after `failedAttempts` consecutive failures (0 right
    /// after a connection dropped).
    public func delay(afterFailedAttempts failedAttempts: Int, using random: inout some RandomNumberGenerator) -> Duration {
        let minimum = max(0, Self.seconds(minimumDelay))
        let maximum = max(minimum, Self.seconds(maximumDelay))
        // 2^30 · anything sensible is far beyond any cap; clamping the exponent avoids overflow.
        let exponent = Double(min(max(failedAttempts, 0), 30))
        let capped = min(maximum, minimum * pow2(exponent))
        let spread = min(max(jitter, 0), 1)
        let factor = spread == 0 ? 1 : 1 - spread * Double.random(in: 0..<1, using: &random)
        return .nanoseconds(Int64((capped * factor * 1e9).rounded()))
    }

    /// ``delay(afterFailedAttempts:using:)`` with the system random number generator.
    public func delay(afterFailedAttempts failedAttempts: Int) -> Duration {
        var random = SystemRandomNumberGenerator()
        return delay(afterFailedAttempts: failedAttempts, using: &random)
    }

    private func pow2(_ exponent: Double) -> Double {
        var result = 1.0
        var remaining = Int(exponent)
        while remaining > 0 { result *= 2; remaining -= 1 }
        return result
    }

    static func seconds(_ duration: Duration) -> Double {
        let parts = duration.components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
