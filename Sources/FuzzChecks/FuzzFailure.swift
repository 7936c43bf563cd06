/// A fuzz target found an input that breaks what it checks: a result that differs from the
/// model or the reference, a counter out of step, an error where none may happen (or none
/// where one must). The fuzzer aborts on it and keeps the input; the regression tests report it.
public struct FuzzFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The target that found it (`FuzzLZ4Decode`, ...).
    public var target: String
    /// The operation in the input's sequence that failed (counting from 0), when the target runs
    /// sequences.
    public var step: Int?
    /// What happened, with the values involved.
    public var message: String

    /// A failure of `target` at `step`.
    public init(target: String, step: Int? = nil, _ message: String) {
        self.target = target
        self.step = step
        self.message = message
    }

    /// The message, where it happened, and what to do with the input.
    public var description: String {
        let place = step.map { " at operation \($0)" } ?? ""
        return "\(target)\(place): \(message). Minimise the input (scripts/fuzz.sh \(target) -minimize FILE), keep it in Tests/FuzzCorpus/\(target)/ and fix the code it breaks"
    }
}
