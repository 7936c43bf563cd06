import ArgumentParser

// PLACEHOLDER: replaced by the real command.
struct BenchDevice: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "device")
    func run() throws { throw ValidationError("not built yet") }
}
