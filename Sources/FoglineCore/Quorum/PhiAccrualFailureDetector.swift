#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A phi-accrual failure detector (Hayashibara et al., in Akka's variant) for one peer.
///
/// Instead of a yes/no timeout it reports `phi`, the suspicion that the peer is down: −log10 of
/// the probability that a heartbeat would still arrive after the silence so far, assuming
/// inter-arrival times are normally distributed with the mean and standard deviation of a
/// sliding window of recent intervals. A steady peer is suspected soon after it falls silent; a
/// jittery one is given more slack. Times are monotonic milliseconds passed in by the caller.
public struct PhiAccrualFailureDetector: Sendable {
    /// Tuning, in Akka's terms.
    public struct Parameters: Hashable, Sendable {
        /// Suspect the peer once `phi` reaches this (8 ≈ one false suspicion in 10^8 if intervals
        /// were truly normal).
        public var threshold: Double
        /// How many recent intervals are remembered.
        public var maxSampleSize: Int
        /// Floor for the standard deviation, so perfectly regular heartbeats do not make any tiny
        /// delay look like a failure.
        public var minStdDeviationMilliseconds: Double
        /// Extra silence tolerated on top of the mean interval (GC pauses, busy network).
        public var acceptableHeartbeatPauseMilliseconds: Double
        /// Assumed interval before real ones are measured (normally the heartbeat interval).
        public var firstHeartbeatEstimateMilliseconds: Double

        public init(
            threshold: Double = 8, maxSampleSize: Int = 200, minStdDeviationMilliseconds: Double = 100,
            acceptableHeartbeatPauseMilliseconds: Double = 1_000, firstHeartbeatEstimateMilliseconds: Double = 500
        ) {
            precondition(threshold > 0 && maxSampleSize > 0 && minStdDeviationMilliseconds > 0)
            precondition(acceptableHeartbeatPauseMilliseconds >= 0 && firstHeartbeatEstimateMilliseconds > 0)
            self.threshold = threshold
            self.maxSampleSize = maxSampleSize
            self.minStdDeviationMilliseconds = minStdDeviationMilliseconds
            self.acceptableHeartbeatPauseMilliseconds = acceptableHeartbeatPauseMilliseconds
            self.firstHeartbeatEstimateMilliseconds = firstHeartbeatEstimateMilliseconds
        }
    }

    public let parameters: Parameters
    private var intervals: IntervalWindow
    /// When the last heartbeat arrived; `nil` before the first.
    public private(set) var lastHeartbeat: UInt64?

    public init(parameters: Parameters = Parameters()) {
        self.parameters = parameters
        // Seeded with two intervals one estimated deviation either side of the estimate (a
        // quarter of it, as Akka does), so the first real silences are judged sensibly.
        let estimate = parameters.firstHeartbeatEstimateMilliseconds
        intervals = IntervalWindow(capacity: parameters.maxSampleSize)
        intervals.append(estimate - estimate / 4)
        intervals.append(estimate + estimate / 4)
    }

    /// Whether any heartbeat has arrived yet.
    public var isMonitoring: Bool { lastHeartbeat != nil }

    /// Records a heartbeat received at `now`. A heartbeat older than the last one is ignored.
    public mutating func heartbeat(at now: UInt64) {
        guard let last = lastHeartbeat else {
            lastHeartbeat = now
            return
        }
        guard now >= last else { return }
        // The interval that ends a suspected silence is not a normal sample: it would inflate the
        // mean and make the next failure slower to notice.
        if isAvailable(at: now) { intervals.append(Double(now - last)) }
        lastHeartbeat = now
    }

    /// The suspicion level at `now`: 0 before the first heartbeat and right after one, growing
    /// without bound as silence continues.
    public func phi(at now: UInt64) -> Double {
        guard let last = lastHeartbeat else { return 0 }
        let silence = now > last ? Double(now - last) : 0
        let mean = intervals.mean + parameters.acceptableHeartbeatPauseMilliseconds
        let deviation = max(intervals.standardDeviation, parameters.minStdDeviationMilliseconds)
        return Self.phi(silence: silence, mean: mean, standardDeviation: deviation)
    }

    /// Whether the peer is considered up at `now` (`phi` below the threshold). A peer never
    /// heard from counts as available here; `MembershipView` decides how to treat it.
    public func isAvailable(at now: UInt64) -> Bool {
        phi(at: now) < parameters.threshold
    }

    /// Mean of the remembered intervals (without the acceptable pause).
    public var meanIntervalMilliseconds: Double { intervals.mean }
    /// Standard deviation of the remembered intervals (before the `minStdDeviation` floor).
    public var intervalStandardDeviationMilliseconds: Double { intervals.standardDeviation }

    /// −log10 of the normal tail probability, by the logistic approximation of the CDF that Akka
    /// uses (error under 0.02%, and monotonic).
    static func phi(silence: Double, mean: Double, standardDeviation: Double) -> Double {
        let y = (silence - mean) / standardDeviation
        let e = exp(-y * (1.5976 + 0.070566 * y * y))
        if silence > mean {
            // Tail probability e/(1+e); for huge silences e underflows, so use its logarithm.
            guard e > 0, e.isFinite else { return y * (1.5976 + 0.070566 * y * y) / log(10) }
            return -log10(e / (1 + e))
        }
        return -log10(1 - 1 / (1 + e))
    }
}

/// A fixed-capacity window of recent intervals with running sums, so mean and variance are O(1).
/// Intervals are whole milliseconds, so the sums stay exact integers in a `Double` (below 2^53).
struct IntervalWindow: Sendable {
    private var samples: [Double] = []
    private var oldest = 0
    private let capacity: Int
    private var sum: Double = 0
    private var squaredSum: Double = 0

    init(capacity: Int) {
        self.capacity = capacity
        samples.reserveCapacity(min(capacity, 256))
    }

    var count: Int { samples.count }

    mutating func append(_ interval: Double) {
        if samples.count < capacity {
            samples.append(interval)
        } else {
            let evicted = samples[oldest]
            sum -= evicted
            squaredSum -= evicted * evicted
            samples[oldest] = interval
            oldest = (oldest + 1) % capacity
        }
        sum += interval
        squaredSum += interval * interval
    }

    var mean: Double { samples.isEmpty ? 0 : sum / Double(samples.count) }

    var standardDeviation: Double {
        guard !samples.isEmpty else { return 0 }
        let mean = self.mean
        // Running sums can drift slightly negative through rounding.
        return sqrt(max(0, squaredSum / Double(samples.count) - mean * mean))
    }
}
