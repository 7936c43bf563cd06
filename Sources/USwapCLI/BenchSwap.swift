import ArgumentParser

// PLACEHOLDER: replaced by the real command.
struct BenchSwap: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "swap")
    func run() throws { throw ValidationError("not built yet") }
}
