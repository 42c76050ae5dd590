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
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // libmosquitto (Debian: libmosquitto-dev). Imported only by FoglineMQTT.
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),
        // Pure logic: no I/O, no threads, no clocks. Time is passed in.
        .target(name: "FoglineCore", swiftSettings: strictSettings),
        .target(
            name: "FoglineWire",
            dependencies: [
                "FoglineCore",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["fogline.proto"],
            swiftSettings: strictSettings
        ),
        // Seeded generators shared by the property and simulation tests.
        .target(name: "FoglineTesting", dependencies: ["FoglineCore"], path: "Tests/FoglineTesting", swiftSettings: strictSettings),
        .testTarget(name: "FoglineCoreTests", dependencies: ["FoglineCore", "FoglineTesting"], swiftSettings: strictSettings),
        .testTarget(name: "FoglineWireTests", dependencies: ["FoglineWire", "FoglineCore", "FoglineTesting"], swiftSettings: strictSettings),
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
            name: "fogline-bench-core", dependencies: ["FoglineCore", "FoglineWire", "BenchmarkWorkloads", "CHeapStats"],
            path: "Benchmarks/BenchCore", swiftSettings: strictSettings),
    ],
    swiftLanguageModes: [.v6]
)
