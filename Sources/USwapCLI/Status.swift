import ArgumentParser
import Benchmarks
import FoundationEssentials
import ProcessPager

/// `uswap status`: the programs running under `uswap run` on this machine, the way zramctl
/// lists the kernel's devices.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the programs running under uswap run: resident memory, pool, ratio, swap-ins per second.",
        discussion: """
            Each uswap run answers on an abstract Unix socket (uswap-run.PID, listed in \
            /proc/net/unix). The kernel removes the name when the run ends, however it ends, so a \
            run that crashed is never listed.
            """)

    @Flag(help: "Print a JSON array instead of a table.")
    var json = false

    func run() throws {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        var entries: [RunStatusEntry] = []
        for name in RunStatusClient.runningSocketNames() {
            guard let text = RunStatusClient.query(name),
                let entry = try? decoder.decode(RunStatusEntry.self, from: Data(text.utf8))
            else { continue }
            entries.append(entry)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(entries), as: UTF8.self))
            return
        }
        print(Self.table(entries), terminator: "")
    }

    /// The human table: one line per run.
    static func table(_ entries: [RunStatusEntry]) -> String {
        func mib(_ bytes: Int) -> String { "\(Run.format1(Double(bytes) / 1_048_576))M" }
        let header = ["PID", "PROGRAM", "RESIDENT", "LIMIT", "POOL", "RATIO", "SWAPIN/S", "PROCS", "UPTIME", "COMMAND"]
        var rows = [header]
        for e in entries {
            rows.append([
                "\(e.pid)", "\(e.programPid)", mib(e.residentBytes), mib(e.residentLimitBytes), mib(e.poolBytes),
                Run.format2(e.ratio), "\(Int(e.swapInsPerSecond.rounded()))", "\(e.processes)", "\(Int(e.uptimeSeconds))s",
                e.command.joined(separator: " "),
            ])
        }
        var widths = [Int](repeating: 0, count: header.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        var text = ""
        for row in rows {
            let cells = row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
            }
            text += cells.joined(separator: " ") + "\n"
        }
        return text
    }
}
