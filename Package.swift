// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

// The fuzz targets (docs/FUZZING.md): one small executable each, built with libFuzzer by
// scripts/fuzz.sh, and a replayer of input files in the ordinary build.
let fuzzTargets = ["FuzzLZ4Decode", "FuzzLZ4RoundTrip", "FuzzZstd", "FuzzZram", "FuzzFrontswap", "FuzzBlockAllocator"]

let package = Package(
    name: "USwap",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PageCodecs", targets: ["PageCodecs"]),
        .library(name: "PageStore", targets: ["PageStore"]),
        .library(name: "ZsPool", targets: ["ZsPool"]),
        .library(name: "ZRAM", targets: ["ZRAM"]),
        .library(name: "ZSwap", targets: ["ZSwap"]),
        .library(name: "Swap", targets: ["Swap"]),
        .library(name: "Workloads", targets: ["Workloads"]),
        .library(name: "KernelSwap", targets: ["KernelSwap"]),
        .library(name: "ProcessAnalysis", targets: ["ProcessAnalysis"]),
        .library(name: "ProcessPager", targets: ["ProcessPager"]),
        .executable(name: "uswap", targets: ["USwapCLI"]),
        .library(name: "RedisTier", targets: ["RedisTier"]),
        .library(name: "Soak", targets: ["Soak"]),
        .library(name: "TierCrypto", targets: ["TierCrypto"]),
        .library(name: "Benchmarks", targets: ["Benchmarks"]),
        .library(name: "SecondTier", targets: ["SecondTier"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // Clocks, threads, the one lock word, procfs readers, mappings, EINTR retries: the
        // system support every other target builds on (swift-system's FileDescriptor and Errno).
        .target(
            name: "SystemSupport", dependencies: [.product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict),
        // Codecs: pure Swift LZ4, zstd through the system libzstd (dlopen), same-filled detection,
        // and the per-thread codec streams the stores share.
        .target(name: "PageCodecs", dependencies: ["SystemSupport"], swiftSettings: strict),
        // The vocabulary every store shares: SwapBackend, slots, errors, BackingFile.
        .target(
            name: "PageStore",
            dependencies: ["PageCodecs", "SystemSupport", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict),
        // The size-class pool (zsmalloc) under both ZRAM and ZSwap.
        .target(name: "ZsPool", dependencies: ["SystemSupport"], swiftSettings: strict),
        // The in-process zram device.
        .target(name: "ZRAM", dependencies: ["PageCodecs", "PageStore", "ZsPool", "SystemSupport"], swiftSettings: strict),
        // A zswap-style compressed cache in front of a backing swap file.
        .target(
            name: "ZSwap", dependencies: ["PageCodecs", "PageStore", "ZsPool", "SystemSupport"], swiftSettings: strict),
        // Kernel interfaces Swift cannot express: userfaultfd structs and ioctls, newer constants.
        .target(name: "CUSwap"),
        // userfaultfd swap regions.
        .target(
            name: "Swap",
            dependencies: ["PageStore", "CUSwap", "SystemSupport", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict),
        // The work run on memory and checked afterwards: swapbench.c's workload and access
        // patterns, page corpora, the demo's table, the test helpers' page contents.
        .target(
            name: "Workloads",
            dependencies: ["PageCodecs", "SystemSupport", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict),
        // The kernel's side, for measuring a machine: zram devices, swap files and swapon/off,
        // memory cgroups, zswap, the kernel-swap session and its child, direct I/O, and putting
        // the machine back on signals.
        .target(
            name: "KernelSwap",
            dependencies: ["SystemSupport", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict),
        // What compressed swap would save for a running process: its maps, pagemap and pages
        // (process_vm_readv, /proc/PID/mem), stored in a pool per codec.
        .target(
            name: "ProcessAnalysis",
            dependencies: [
                "PageCodecs", "PageStore", "ZRAM", "SystemSupport", .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict),
        // What the pager needs from C beside CUSwap: socket messages with descriptors, userfaultfd
        // events, epoll, process_vm_readv; and the agent protocol header.
        .target(name: "CProcessPager"),
        // The agent `uswap run` preloads into the program (Sources/USwapAgent: a full userfaultfd
        // handed to the pager, mmap interposed, a drop thread; C only, no malloc) is built by this
        // plugin as a resource of `uswap`, so that building `uswap` builds its agent too.
        .plugin(name: "BuildAgent", capability: .buildTool()),
        // `uswap run`'s pager: sessions per program process, the userfaultfd reader, eviction
        // across processes, the agent protocol, the run's figures.
        .target(
            name: "ProcessPager",
            dependencies: [
                "CProcessPager", "CUSwap", "Swap", "ZRAM", "ZSwap", "PageStore", "PageCodecs", "SystemSupport", "SecondTier",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict),
        // A store's second tier by name, shared by `bench swap` and `uswap run`: `--tier FILE` or
        // `--tier redis://...` parsed (TierSpec) and opened (OpenedTier: a file made as a swap file
        // or unlinked at once, a Redis Cluster with its lease, encrypted when asked for).
        .target(
            name: "SecondTier",
            dependencies: ["PageStore", "ZRAM", "ZSwap", "KernelSwap", "RedisTier", "TierCrypto", "SystemSupport"],
            swiftSettings: strict),
        // The benchmarks `uswap bench` runs, as a library: the stores a bench swaps to and their
        // second tiers, the codec, device and swap benchmarks and their reports.
        .target(
            name: "Benchmarks",
            dependencies: [
                "PageCodecs", "PageStore", "ZRAM", "ZSwap", "Swap", "Workloads", "KernelSwap", "RedisTier", "TierCrypto",
                "SystemSupport", "SecondTier",
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "USwapCLI",
            dependencies: [
                "Benchmarks", "PageCodecs", "PageStore", "ZRAM", "ZSwap", "Swap", "CUSwap", "SystemSupport", "Workloads", "KernelSwap", "ProcessAnalysis",
                "RedisTier", "Soak", "ProcessPager", "SecondTier",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict, plugins: ["BuildAgent"]),
        // A small process the tests run instead of forking: fills known memory patterns and waits.
        .executableTarget(
            name: "USwapTestHelper",
            dependencies: [
                "SystemSupport", "Workloads", .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        // Runs a swap region in its own process for tests whose outcome is a signal (SIGBUS on
        // a failed swap-in, a trap) or that count the process's descriptors and mappings: fork
        // is unsafe in a multithreaded test runner.
        .executableTarget(
            name: "USwapFaultHelper",
            dependencies: [
                "Swap", "ZSwap", "ZRAM", "PageStore", "SystemSupport", "Workloads", "RedisTier",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        // What the test targets share: finding and running the helper executables, the CI gate,
        // the repository's page corpus.
        .target(
            name: "TestSupport",
            dependencies: [
                "PageCodecs",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict),
        .testTarget(name: "TestSupportTests", dependencies: ["TestSupport"], swiftSettings: strict),
        .testTarget(name: "SystemSupportTests", dependencies: ["SystemSupport", "TestSupport"], swiftSettings: strict),
        // The kernel's side; its live tests run the built `uswap` and USwapTestHelper as the
        // session's child.
        .testTarget(
            name: "KernelSwapTests",
            dependencies: [
                "KernelSwap", "SystemSupport", "TestSupport", "USwapCLI", "USwapTestHelper",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict),
        // Reads the memory of a running USwapTestHelper.
        .testTarget(
            name: "ProcessAnalysisTests",
            dependencies: [
                "ProcessAnalysis", "PageCodecs", "PageStore", "ZRAM", "Workloads", "SystemSupport", "TestSupport",
                "USwapTestHelper", .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict),
        .testTarget(name: "WorkloadsTests", dependencies: ["Workloads", "PageCodecs", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "PageCodecsTests", dependencies: ["PageCodecs", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "PageStoreTests",
            dependencies: ["PageStore", "SystemSupport", "TestSupport", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict),
        .testTarget(name: "ZsPoolTests", dependencies: ["ZsPool", "SystemSupport"], swiftSettings: strict),
        .testTarget(
            name: "ZRAMTests", dependencies: ["ZRAM", "ZsPool", "PageCodecs", "PageStore", "SystemSupport", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "ZSwapTests", dependencies: ["ZSwap", "ZsPool", "PageStore", "PageCodecs", "SystemSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "SwapTests",
            dependencies: [
                "Swap", "ZRAM", "ZSwap", "PageStore", "CUSwap", "SystemSupport", "TestSupport", "Workloads", "USwapFaultHelper",
            ],
            swiftSettings: strict),
        .testTarget(
            name: "ProcessPagerTests", dependencies: ["ProcessPager", "KernelSwap", "TestSupport", "USwapCLI", "SecondTier"],
            exclude: ["Programs"], swiftSettings: strict),
        .testTarget(
            name: "USwapCLITests",
            dependencies: [
                "USwapCLI", "USwapTestHelper", "ZRAM", "ZSwap", "PageCodecs", "KernelSwap", "Workloads", "SystemSupport",
                "ProcessAnalysis", "TestSupport", .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            swiftSettings: strict),
        // The benchmarks; the signal tests run the built `uswap` (hence USwapCLI, built, not imported).
        .testTarget(
            name: "BenchmarksTests",
            dependencies: [
                "Benchmarks", "PageCodecs", "PageStore", "Swap", "ZRAM", "ZSwap", "KernelSwap", "Workloads", "SystemSupport",
                "TestSupport", "USwapCLI", "SecondTier",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict),
        // The far-memory tier: cold compressed pages in a Redis Cluster (RESP over plain sockets,
        // hash-slot routing, redirects, failover, WAIT for replicas, leases and gc), behind the
        // PageTier interface a backing file can also sit behind.
        .target(
            name: "RedisTier",
            dependencies: ["PageStore", "SystemSupport", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict),
        // The tier's figures against redis-benchmark, and the run the gc test kills.
        .executableTarget(
            name: "RedisTierBench", dependencies: ["RedisTier", "PageCodecs", "PageStore", "SystemSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "RedisTierTests",
            dependencies: ["RedisTier", "PageStore", "SystemSupport", "TestSupport", "RedisTierBench", "USwapFaultHelper", "TierCrypto"],
            swiftSettings: strict),
        // The reliability soak: rounds of swap regions on every backend, policy and mode, under
        // injected file faults, checked against a model, with leak checks after each round; the
        // supervisor that runs it in worker processes (`uswap soak`).
        .target(
            name: "Soak",
            dependencies: ["PageStore", "ZRAM", "ZSwap", "Swap", "SystemSupport", "Workloads"],
            swiftSettings: strict),
        .testTarget(
            name: "SoakTests",
            dependencies: ["Soak", "Swap", "PageStore", "SystemSupport", "TestSupport", "USwapCLI"],
            swiftSettings: strict),
        // Encryption of the second tier: a PageTier decorator whose key lives in locked memory
        // outside the heap (AES-GCM through swift-crypto); the one target that needs swift-crypto.
        .target(
            name: "TierCrypto",
            dependencies: ["PageStore", "SystemSupport", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict),
        .testTarget(
            name: "TierCryptoTests", dependencies: ["TierCrypto", "PageStore", "SystemSupport"],
            swiftSettings: strict),
        // What the fuzz targets check, against models and liblz4: a library, so that the
        // regression tests run every committed seed and crasher through the same checks.
        .target(
            name: "FuzzChecks",
            dependencies: ["PageCodecs", "PageStore", "ZsPool", "ZRAM", "ZSwap", "SystemSupport", "Workloads"],
            swiftSettings: strict),
        // libFuzzer's driver entry point, declared for Swift (its runtime defines it).
        .target(name: "FuzzEngine"),
        // The fuzz executables' main: libFuzzer with -DFUZZING, a replayer without.
        .target(name: "FuzzDriver", dependencies: ["FuzzChecks", "FuzzEngine", "SystemSupport"], swiftSettings: strict),
        .testTarget(
            name: "FuzzRegressionTests", dependencies: ["FuzzChecks", "PageCodecs", "PageStore", "ZRAM", "TestSupport"],
            swiftSettings: strict),
    ] + fuzzTargets.map { name in
        .executableTarget(name: name, dependencies: ["FuzzDriver", "FuzzChecks"], swiftSettings: strict)
    }
)

// Linux is the platform: userfaultfd, the kernel's zram and zswap, memory cgroups and
// process_vm_readv exist only there. Elsewhere the package is the portable libraries alone
// (their Linux-only calls sit behind `#if os(Linux)`), with their tests; only Linux is built and
// tested by this project's CI.
#if !os(Linux)
let portableTargets: Set<String> = [
    "SystemSupport", "PageCodecs", "PageStore", "ZsPool", "ZRAM", "ZSwap", "TestSupport",
    "SystemSupportTests", "TestSupportTests", "PageCodecsTests", "PageStoreTests", "ZsPoolTests", "ZRAMTests",
    "ZSwapTests",
]
package.targets.removeAll { !portableTargets.contains($0.name) }
package.products.removeAll { !portableTargets.contains($0.name) }  // each library product is its one target
#endif
