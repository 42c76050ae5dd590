// Micro benchmarks of FoglineCore's hot paths (package-benchmark). Run: `make bench-micro`.
// The end-to-end comparison with pycrdt and loro is scripts/bench-core.

import Benchmark
import FoglineCore
import FoglineWire
import BenchmarkWorkloads

#if canImport(Glibc)
import Glibc
#endif

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(2))
    let start: UInt64 = 1_763_800_000_000

    Benchmark("clock_gettime(CLOCK_REALTIME)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var spec = timespec()
        for _ in benchmark.scaledIterations {
            clock_gettime(CLOCK_REALTIME, &spec)
            blackHole(spec.tv_nsec)
        }
    }

    Benchmark("HLC now()", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var clock = HybridLogicalClock(node: NodeID(name: "edge-a"), persistedBound: nil, wallMilliseconds: start)
        var wall = start
        for index in benchmark.scaledIterations {
            wall &+= UInt64(index & 1)
            blackHole(clock.now(wallMilliseconds: wall).timestamp)
        }
    }

    Benchmark("HLC update(receiving:)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var clock = HybridLogicalClock(node: NodeID(name: "edge-a"), persistedBound: nil, wallMilliseconds: start)
        let peer = NodeID(name: "edge-b")
        for index in benchmark.scaledIterations {
            let remote = HLCTimestamp(milliseconds: start + UInt64(index >> 4), counter: 3, node: peer)
            blackHole(try? clock.update(receiving: remote, wallMilliseconds: start + UInt64(index >> 4)))
        }
    }

    Benchmark("CausalContext.contains", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let nodes = (0..<5).map { NodeID(name: "edge-\($0)") }
        let context = CausalContext(versionVector: nodes.map { ($0, UInt64(1_000_000)) })
        for index in benchmark.scaledIterations {
            blackHole(context.contains(Dot(node: nodes[index % 5], counter: UInt64(index))))
        }
    }

    // 1,000 devices × 10 fields: the twin workload of scripts/bench-core, one round per iteration.
    Benchmark("twin round: delta(since:) + encode + decode + merge (10k fields)") { benchmark in
        var workload = TwinWorkload(devices: 1_000, fields: 10)
        for _ in benchmark.scaledIterations {
            workload.writeRound()
            benchmark.startMeasurement()
            let bytes = workload.encodeDelta()
            workload.mergeDelta(bytes)
            benchmark.stopMeasurement()
        }
    }
}
