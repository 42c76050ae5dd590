// swift-tools-version: 6.1
// ordo-one/benchmark needs tools 6.1 and its MallocInterposer trait.

import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Fogline",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "FoglineCore", targets: ["FoglineCore"]),
        .library(name: "FoglineWire", targets: ["FoglineWire"]),
        .executable(name: "fogline-edge", targets: ["fogline-edge"]),
        .executable(name: "fogline-sim", targets: ["fogline-sim"]),
        .executable(name: "fogline-cloud", targets: ["fogline-cloud"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // libmosquitto (Debian: libmosquitto-dev). Imported only by FoglineMQTT.
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),
        // zlib (Debian: zlib1g-dev): raw DEFLATE of large sync batches. Imported only by FoglineWire.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // glibc's malloc tuning, for fogline-edge's start-up.
        .systemLibrary(name: "CMalloc"),
        // Pure logic: no I/O, no threads, no clocks. Time is passed in. (Crypto only for hashing:
        // the audit chain's SHA-256.)
        .target(
            name: "FoglineCore", dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSettings),
        .target(
            name: "FoglineWire",
            dependencies: [
                "FoglineCore", "CZlib",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["fogline.proto"],
            swiftSettings: strictSettings
        ),
        // The only importer of CMosquitto: an async MQTT client, and a multiplexer that drives many
        // clients from one thread (the simulator).
        .target(
            name: "FoglineMQTT",
            dependencies: ["CMosquitto", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings),
        // SQLite persistence (GRDB, WAL): site state, ingest bookkeeping, HLC bound, outbox.
        .target(
            name: "FoglineStore",
            dependencies: [
                "FoglineCore", "FoglineWire",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings),
        // YAML configuration reading with every problem located (FILE:LINE), shared by the programs.
        .target(
            name: "FoglineConfig", dependencies: [.product(name: "Yams", package: "Yams")], swiftSettings: strictSettings),
        // The edge runtime: config, device plane, admin API.
        .target(
            name: "FoglineEdge",
            dependencies: [
                "FoglineCore", "FoglineWire", "FoglineMQTT", "FoglineStore", "FoglineConfig",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                // PBKDF2 for the Mosquitto password file (`fogline-edge provision`).
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings),
        // The device simulator engine: profiles, signal generators, faults.
        .target(
            name: "FoglineSim",
            dependencies: [
                "FoglineWire", "FoglineMQTT",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings),
        // The aggregator: sync ingest over MQTT, storage (SQLite or PostgreSQL), HTTP API.
        .target(
            name: "FoglineCloud",
            dependencies: [
                "FoglineCore", "FoglineWire", "FoglineMQTT", "FoglineConfig", "FoglineStore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings),
        // The terminal dashboard over the aggregator's HTTP API: a pure model, reducer and
        // `render(state, size) -> Frame`, and a thin termios + ANSI backend.
        .target(name: "FoglineDash", dependencies: ["FoglineWire"], swiftSettings: strictSettings),
        .executableTarget(
            name: "fogline-cloud",
            dependencies: [
                "FoglineConfig", "FoglineCloud", "FoglineDash",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings),
        .executableTarget(
            name: "fogline-edge",
            dependencies: [
                "FoglineConfig", "FoglineEdge", "FoglineWire", "CMalloc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings),
        // libFuzzer's driver entry (header only; linked by `-sanitize=fuzzer` in the fuzz build).
        .systemLibrary(name: "CLibFuzzer"),
        // The libFuzzer targets (README, "Fuzzing"): `make fuzz` builds them with the fuzzer and
        // address sanitizers in .build-fuzz; the plain build only replays files through them.
        .executableTarget(
            name: "fogline-fuzz",
            dependencies: [
                "CLibFuzzer", "FoglineCore", "FoglineWire", "FoglineEdge", "FoglineSim",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strictSettings),
        .executableTarget(
            name: "fogline-sim",
            dependencies: [
                "FoglineSim", "FoglineConfig",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings),
        // Seeded generators shared by the property and simulation tests.
        .target(name: "FoglineTesting", dependencies: ["FoglineCore"], path: "Tests/FoglineTesting", swiftSettings: strictSettings),
        .testTarget(name: "FoglineCoreTests", dependencies: ["FoglineCore", "FoglineTesting"], swiftSettings: strictSettings),
        .testTarget(name: "FoglineWireTests", dependencies: ["FoglineWire", "FoglineCore", "FoglineTesting", .product(name: "Crypto", package: "swift-crypto")], swiftSettings: strictSettings),
        // Starts real Mosquitto brokers on free loopback ports (see Tests/FoglineTesting/MosquittoProcess.swift).
        .testTarget(name: "FoglineMQTTTests", dependencies: ["FoglineMQTT", "FoglineTesting"], swiftSettings: strictSettings),
        .testTarget(
            name: "FoglineStoreTests",
            dependencies: ["FoglineStore", "FoglineCore", "FoglineTesting", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strictSettings),
        .testTarget(
            name: "FoglineEdgeTests",
            dependencies: ["FoglineEdge", "FoglineConfig", "FoglineCore", "FoglineWire", "FoglineStore", "FoglineMQTT", "FoglineTesting", "CMalloc"],
            swiftSettings: strictSettings),
        // The deterministic whole-site simulations, with faults: the quorum protocols (with the
        // linearizability checker) and reconciliation (gossip and the cloud uplink).
        .testTarget(
            name: "FoglineSiteSimulationTests", dependencies: ["FoglineCore", "FoglineWire", "FoglineTesting"],
            swiftSettings: strictSettings),
        // The aggregator's stores (SQLite; PostgreSQL when FOGLINE_TEST_POSTGRES_URL is set, as
        // .ci/run does), its HTTP API, and fogline-cloud against real brokers.
        .testTarget(
            name: "FoglineCloudTests",
            dependencies: [
                "FoglineCloud", "FoglineConfig", "FoglineCore", "FoglineDash", "FoglineWire", "FoglineMQTT", "FoglineTesting",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings),
        // Snapshot tests of the dashboard's frames (Snapshots/; FOGLINE_RECORD_SNAPSHOTS=1 re-records),
        // the cell-diff writer, key decoding and the reducer. The tmux test is in FoglineCloudTests.
        .testTarget(
            name: "FoglineDashTests", dependencies: ["FoglineDash", "FoglineWire", "FoglineTesting"],
            exclude: ["Snapshots"], swiftSettings: strictSettings),
        .testTarget(name: "FoglineSimTests", dependencies: ["FoglineSim", "FoglineWire", "FoglineTesting"], swiftSettings: strictSettings),
        // Benchmarks: package-benchmark micro benchmarks, and the workload runner behind scripts/bench-core.
        .target(
            name: "BenchmarkWorkloads", dependencies: ["FoglineCore", "FoglineWire"],
            path: "Benchmarks/BenchmarkWorkloads", swiftSettings: strictSettings),
        .executableTarget(
            name: "CoreBenchmarks",
            dependencies: [
                "FoglineCore",
                "FoglineWire",
                "BenchmarkWorkloads",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/CoreBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .target(name: "CHeapStats", path: "Benchmarks/CHeapStats"),
        .executableTarget(
            name: "fogline-bench-store", dependencies: ["FoglineCore", "FoglineStore"], path: "Benchmarks/BenchStore",
            swiftSettings: strictSettings),
        .executableTarget(
            name: "fogline-bench-reconcile-sizes", dependencies: ["FoglineCore", "FoglineStore", "FoglineWire", "FoglineCloud"],
            path: "Benchmarks/BenchReconcileSizes", swiftSettings: strictSettings),
        .executableTarget(
            name: "fogline-bench-core", dependencies: ["FoglineCore", "FoglineWire", "BenchmarkWorkloads", "CHeapStats"],
            path: "Benchmarks/BenchCore", swiftSettings: strictSettings),
    ],
    swiftLanguageModes: [.v6]
)
