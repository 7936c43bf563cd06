// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "USwap",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PageCodecs", targets: ["PageCodecs"]),
        .library(name: "PageStore", targets: ["PageStore"]),
        .library(name: "ZRAM", targets: ["ZRAM"]),
        .library(name: "ZSwap", targets: ["ZSwap"]),
        .library(name: "Swap", targets: ["Swap"]),
        .library(name: "ProcessPager", targets: ["ProcessPager"]),
        // Preloaded into programs run by `uswap run`; lands next to the `uswap` executable.
        .library(name: "uswap-agent", type: .dynamic, targets: ["USwapAgent"]),
        .executable(name: "uswap", targets: ["USwapCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
    ],
    targets: [
        // Clocks, threads, the one lock word, procfs readers, mappings, EINTR retries: the
        // system support every other target builds on (swift-system's FileDescriptor and Errno).
        .target(
            name: "SystemSupport", dependencies: [.product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict),
        // Codecs: pure Swift LZ4, zstd through the system libzstd (dlopen), same-filled detection.
        .target(name: "PageCodecs", swiftSettings: strict),
        // The vocabulary every store shares: SwapBackend, slots, errors, BackingFile.
        .target(name: "PageStore", dependencies: ["PageCodecs"], swiftSettings: strict),
        // The in-process zram device.
        .target(name: "ZRAM", dependencies: ["PageCodecs", "PageStore", "SystemSupport"], swiftSettings: strict),
        // A zswap-style compressed cache in front of a backing swap file.
        .target(name: "ZSwap", dependencies: ["PageCodecs", "PageStore", "ZRAM"], swiftSettings: strict),
        // Kernel interfaces Swift cannot express: userfaultfd structs and ioctls, newer constants.
        .target(name: "CUSwap"),
        // userfaultfd swap regions.
        .target(
            name: "Swap",
            dependencies: ["PageStore", "CUSwap", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict),
        // What the pager needs from C beside CUSwap: socket messages with descriptors, userfaultfd
        // events, epoll, process_vm_readv; and the agent protocol header.
        .target(name: "CProcessPager"),
        // The agent `uswap run` preloads into the program: a full userfaultfd handed to the pager,
        // mmap interposed, a drop thread. C only, no malloc.
        .target(
            name: "USwapAgent", cSettings: [.headerSearchPath("../CProcessPager/include")],
            linkerSettings: [.unsafeFlags(["-nostartfiles", "-static-stdlib", "-Xlinker", "-z", "-Xlinker", "now"])]),
        // `uswap run`'s pager: sessions per program process, the userfaultfd reader, eviction
        // across processes, the agent protocol, the run's figures.
        .target(
            name: "ProcessPager",
            dependencies: [
                "CProcessPager", "CUSwap", "Swap", "ZRAM", "ZSwap", "PageStore", "PageCodecs", "SystemSupport",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "USwapCLI",
            dependencies: [
                "PageCodecs", "PageStore", "ZRAM", "ZSwap", "Swap", "CUSwap", "ProcessPager", "SystemSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        // A small process the tests run instead of forking: fills known memory patterns and waits.
        .executableTarget(name: "USwapTestHelper", swiftSettings: strict),
        // Runs a swap region in its own process for tests whose outcome is a signal (SIGBUS on
        // a failed swap-in): fork is unsafe in a multithreaded test runner.
        .executableTarget(
            name: "USwapFaultHelper", dependencies: ["Swap", "ZSwap", "ZRAM", "PageStore", "CUSwap"],
            swiftSettings: strict),
        // What the test targets share: finding and running the helper executables, the CI gate.
        .target(
            name: "TestSupport",
            dependencies: [
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict),
        .testTarget(name: "TestSupportTests", dependencies: ["TestSupport"], swiftSettings: strict),
        .testTarget(name: "SystemSupportTests", dependencies: ["SystemSupport"], swiftSettings: strict),
        .testTarget(name: "PageCodecsTests", dependencies: ["PageCodecs"], swiftSettings: strict),
        .testTarget(name: "PageStoreTests", dependencies: ["PageStore"], swiftSettings: strict),
        .testTarget(name: "ZRAMTests", dependencies: ["ZRAM", "PageCodecs", "PageStore"], swiftSettings: strict),
        .testTarget(name: "ZSwapTests", dependencies: ["ZSwap", "ZRAM", "PageStore", "PageCodecs"], swiftSettings: strict),
        .testTarget(
            name: "SwapTests", dependencies: ["Swap", "ZRAM", "ZSwap", "PageStore", "CUSwap", "USwapFaultHelper"],
            swiftSettings: strict),
        .testTarget(
            name: "ProcessPagerTests", dependencies: ["ProcessPager", "TestSupport", "USwapCLI"],
            exclude: ["Programs"], swiftSettings: strict),
        .testTarget(
            name: "USwapCLITests", dependencies: ["USwapCLI", "USwapTestHelper", "ZRAM", "ZSwap", "PageCodecs"],
            swiftSettings: strict),
    ]
)
