// FoglineStore commit throughput: 200,000 telemetry readings (200 devices, 2 metrics, rollups and
// raw rows kept) committed in batches of 1,000 with the owner's context snapshot, as the edge's
// BatchingWriter does. The deltas are built first; only the commits are timed. Run: `make bench`.

import FoglineCore
import FoglineStore
import Foundation

func processCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

let readings = 200_000
let batchSize = 1_000
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fogline-bench-store-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: directory) }
let store = try EdgeStore(path: directory.appendingPathComponent("bench.sqlite").path)

var state = SiteState()
let node = NodeID(name: "edge-a")
var batches: [StoreBatch] = []
var deltas: [SiteDelta] = []
for index in 0..<readings {
    let seq = UInt64(index / 200)
    let milliseconds = 1_763_800_000_000 + seq * 100
    deltas.append(state.recordTelemetry(
        device: "device-\(index % 200)", epoch: 1, seq: seq, deviceTime: Int64(milliseconds),
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
for batch in batches { _ = try store.commit(batch) }
let elapsed = start.duration(to: clock.now)
let cpu = processCPUSeconds() - cpuBefore
try store.close()
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
let committed = batches.count * batchSize
// CPU time beside wall time: other work on the cores inflates the wall figure, not the CPU one.
print(String(
    format: #"{"store_readings_per_s": %.0f, "store_ms_per_commit": %.2f, "store_readings_per_cpu_s": %.0f}"#,
    Double(committed) / seconds, seconds / Double(batches.count) * 1_000, Double(committed) / cpu))
