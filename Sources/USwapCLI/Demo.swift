import ArgumentParser

// PLACEHOLDER: replaced by the real command.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo")
    func run() throws { throw ValidationError("not built yet") }
}
