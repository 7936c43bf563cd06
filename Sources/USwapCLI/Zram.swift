import ArgumentParser

// PLACEHOLDER: replaced by the real command.
struct Zram: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "zram")
    func run() throws { throw ValidationError("not built yet") }
}
