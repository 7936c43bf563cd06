import ArgumentParser

// PLACEHOLDER: replaced by the real command.
struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "analyze")
    func run() throws { throw ValidationError("not built yet") }
}
