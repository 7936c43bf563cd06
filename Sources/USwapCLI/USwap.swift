import ArgumentParser

/// The `uswap` command line tool.
@main
struct USwap: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uswap",
        abstract: "Compressed memory in user space: zram, zswap and swap rebuilt in Swift.",
        subcommands: [Demo.self, Bench.self, Zram.self, Analyze.self, Run.self, Status.self, Soak.self, Cluster.self],
        defaultSubcommand: nil)
}

/// `uswap bench ...`
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Side-by-side benchmarks against liblz4 and the kernel's zram.",
        subcommands: [BenchCodec.self, BenchDevice.self, BenchSwap.self])
}
