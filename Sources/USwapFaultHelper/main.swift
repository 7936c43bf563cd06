// USwapFaultHelper: scenarios for SwapTests that must run in their own process.
// Usage: USwapFaultHelper SCENARIO; prints what it did on stdout, exits 0 on success.
#if canImport(Glibc)
import Glibc
#endif

/// Writes `text` and a newline to standard error.
func complain(_ text: String) {
    let line = text + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}

let arguments = CommandLine.arguments.dropFirst()
guard let scenario = arguments.first else {
    complain("usage: USwapFaultHelper SCENARIO")
    exit(2)
}
complain("USwapFaultHelper: unknown scenario \(scenario)")
exit(2)
