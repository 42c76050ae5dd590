import FoglineCore
import FoglineStore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Commit throughput of the telemetry hot path, printed, never asserted (timings depend on the
/// machine and its load). Opt-in, so ordinary test runs never pay for it:
///
///     FOGLINE_STORE_BENCH=1 swift test -c release --filter CommitThroughputBenchmark
///
/// Workload: 200 devices × 2 metrics, one reading per device per 100 ms of simulated time,
/// rollups and raw rows kept, committed in batches of 1,000 readings (one transaction each),
/// with the owner's context snapshot, as the edge's BatchingWriter does.
@Suite("Commit throughput (opt-in benchmark)")
struct CommitThroughputBenchmark {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["FOGLINE_STORE_BENCH"] != nil))
    func printCommitThroughput() throws {
        let result = try Self.measure(readings: 200_000, batchSize: 1_000)
        print(
            "FoglineStore commit throughput: \(result.readings) readings in \(result.batches) batches of \(result.batchSize): "
                + "\(String(format: "%.3f", result.seconds)) s wall, \(Int(result.readingsPerSecond)) readings/s, "
                + "\(String(format: "%.2f", result.seconds / Double(result.batches) * 1_000)) ms per commit; "
                + "process CPU \(String(format: "%.3f", result.cpuSeconds)) s, "
                + "\(Int(Double(result.readings) / result.cpuSeconds)) readings per CPU-second")
    }

    struct Result {
        var readings: Int
        var batchSize: Int
        var batches: Int
        var seconds: Double
        /// User + system CPU time of the process while committing: the figure to compare when
        /// other work competes for the cores and inflates the wall time.
        var cpuSeconds: Double
        var readingsPerSecond: Double { Double(readings) / seconds }
    }

    /// Generates the deltas first, then times only the commits.
    static func measure(readings: Int, batchSize: Int) throws -> Result {
        let directory = try TemporaryDirectory()
        let store = try EdgeStore(path: directory.file("bench.sqlite"))
        var state = SiteState()
        let node = NodeID(name: "edge-a")
        let deviceCount = 200
        var batches: [StoreBatch] = []
        var deltas: [SiteDelta] = []
        deltas.reserveCapacity(batchSize)
        for index in 0..<readings {
            let device = index % deviceCount
            let seq = UInt64(index / deviceCount)
            let milliseconds = 1_763_800_000_000 + seq * 100
            deltas.append(
                state.recordTelemetry(
                    device: "device-\(device)", seq: seq, deviceTime: Int64(milliseconds),
                    values: [
                        RawTelemetry.Metric(name: "temp", value: 20 + Double(index % 17) / 10),
                        RawTelemetry.Metric(name: "rh", value: 40 + Double(index % 13)),
                    ],
                    stamp: HLCTimestamp(milliseconds: milliseconds, counter: 0, node: node), keepRaw: true))
            if deltas.count == batchSize {
                batches.append(StoreBatch(deltas: deltas, context: state.context, hlcBound: milliseconds + 2_000))
                deltas.removeAll(keepingCapacity: true)
            }
        }
        let clock = ContinuousClock()
        let cpuBefore = processCPUSeconds()
        let start = clock.now
        for batch in batches { try store.commit(batch) }
        let elapsed = start.duration(to: clock.now)
        let cpu = processCPUSeconds() - cpuBefore
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Result(
            readings: batches.count * batchSize, batchSize: batchSize, batches: batches.count, seconds: seconds, cpuSeconds: cpu)
    }

    private static func processCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
