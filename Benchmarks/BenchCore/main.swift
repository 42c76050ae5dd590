// The Swift half of scripts/bench-core: HLC costs beside a plain clock read, and the IoT twin
// workload (1,000 devices × 10 numeric fields, 100 rounds) — encode and merge timed separately,
// wire bytes counted, resident bytes per field measured with mallinfo2. Prints a table to stderr
// and one JSON object as its last stdout line.

import BenchmarkWorkloads
import CHeapStats
import FoglineCore
import FoglineWire

#if canImport(Glibc)
import Glibc
#endif

func monotonicNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

func liveHeapBytes() -> Int {
    Int(fogline_heap_bytes_in_use())
}

@inline(never)
func sink<T>(_ value: T) {
    withExtendedLifetime(value) {}
}

/// Nanoseconds per iteration of `body`, the best of three passes.
func nanosecondsPerIteration(_ iterations: Int, _ body: (Int) -> Void) -> Double {
    var best = Double.infinity
    for _ in 0..<3 {
        let start = monotonicNanoseconds()
        for index in 0..<iterations { body(index) }
        best = min(best, Double(monotonicNanoseconds() - start) / Double(iterations))
    }
    return best
}

func option(_ name: String, default value: Int) -> Int {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let parsed = Int(arguments[index + 1])
    else { return value }
    return parsed
}
let deviceCount = option("--devices", default: 1_000)
let fieldCount = option("--fields", default: 10)
let rounds = option("--rounds", default: 100)
let clockIterations = option("--clock-iterations", default: 20_000_000)

// MARK: Clocks

var spec = timespec()
let clockReadNanoseconds = nanosecondsPerIteration(clockIterations) { _ in
    clock_gettime(CLOCK_REALTIME, &spec)
    sink(spec.tv_nsec)
}
let startWall: UInt64 = 1_763_800_000_000
var hlc = HybridLogicalClock(node: NodeID(name: "edge-a"), persistedBound: nil, wallMilliseconds: startWall)
// Wall time advances by a millisecond every 64 calls: mostly the counter path, sometimes the wall path.
let hlcNowNanoseconds = nanosecondsPerIteration(clockIterations) { index in
    sink(hlc.now(wallMilliseconds: startWall &+ UInt64(index >> 6)).timestamp)
}
let hlcNowWithReadNanoseconds = nanosecondsPerIteration(clockIterations) { _ in
    clock_gettime(CLOCK_REALTIME, &spec)
    let wall = UInt64(spec.tv_sec) &* 1_000 &+ UInt64(spec.tv_nsec) / 1_000_000
    sink(hlc.now(wallMilliseconds: wall).timestamp)
}
let peer = NodeID(name: "edge-b")
var receiver = HybridLogicalClock(node: NodeID(name: "edge-c"), persistedBound: nil, wallMilliseconds: startWall)
let hlcUpdateNanoseconds = nanosecondsPerIteration(clockIterations) { index in
    let now = startWall &+ UInt64(index >> 6)
    sink(try? receiver.update(receiving: HLCTimestamp(milliseconds: now, counter: 5, node: peer), wallMilliseconds: now))
}

// MARK: Twin workload

var workload = TwinWorkload(devices: deviceCount, fields: fieldCount)
var encodeNanoseconds: UInt64 = 0
var mergeNanoseconds: UInt64 = 0
var wireBytes = 0
for _ in 0..<rounds {
    workload.writeRound()
    let encodeStart = monotonicNanoseconds()
    let bytes = workload.encodeDelta()
    let encodeEnd = monotonicNanoseconds()
    workload.mergeDelta(bytes)
    mergeNanoseconds += monotonicNanoseconds() - encodeEnd
    encodeNanoseconds += encodeEnd - encodeStart
    wireBytes += bytes.count
}
precondition(workload.cloud == workload.edge, "the replicas did not converge")
let updates = Double(rounds * workload.updatesPerRound)

// Resident bytes per field: a fresh replica holding every device's fields.
let before = liveHeapBytes()
var replica = SiteState()
replica.merge(workload.edge.asDelta)
let after = liveHeapBytes()
let fieldsHeld = replica.reported.fieldCount
let ramBytesPerField = Double(after - before) / Double(fieldsHeld)
sink(replica)

func rounded(_ value: Double, _ places: Int = 1) -> Double {
    var scale = 1.0
    for _ in 0..<places { scale *= 10 }
    return (value * scale).rounded() / scale
}

let results: [(String, Double)] = [
    ("clock_read_ns", rounded(clockReadNanoseconds, 2)),
    ("hlc_now_ns", rounded(hlcNowNanoseconds, 2)),
    ("hlc_now_with_clock_read_ns", rounded(hlcNowWithReadNanoseconds, 2)),
    ("hlc_update_ns", rounded(hlcUpdateNanoseconds, 2)),
    ("encode_updates_per_s", rounded(updates / (Double(encodeNanoseconds) / 1e9))),
    ("merge_updates_per_s", rounded(updates / (Double(mergeNanoseconds) / 1e9))),
    ("wire_bytes_per_update", rounded(Double(wireBytes) / updates, 4)),
    ("ram_bytes_per_field", rounded(ramBytesPerField, 2)),
]
for (name, value) in results {
    let line = "  " + name + String(repeating: " ", count: max(1, 30 - name.count)) + "\(value)\n"
    _ = line.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
}
print("{" + results.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
