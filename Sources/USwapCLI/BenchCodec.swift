import ArgumentParser

// PLACEHOLDER: replaced by the real command.
struct BenchCodec: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "codec")
    func run() throws { throw ValidationError("not built yet") }
}
