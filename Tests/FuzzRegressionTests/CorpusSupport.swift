import FuzzChecks
import Testing

/// Runs every committed input of `Check` (its seeds and kept crashers) through the check, as
/// the fuzzer does; a failure names the file.
func runCorpus<Check: FuzzCheck>(_ check: Check, _ input: FuzzCorpus.Input, sourceLocation: SourceLocation = #_sourceLocation) {
    do throws(FuzzFailure) { try check.check(input.bytes) } catch {
        Issue.record("\(input.name): \(error)", sourceLocation: sourceLocation)
    }
}

/// Expects `body` to fail the check with a message containing `text`.
func expectFailure(containing text: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("the check passed; it should have failed with \"\(text)\"", sourceLocation: sourceLocation)
    } catch let failure as FuzzFailure {
        #expect(failure.message.contains(text), "\(failure.message)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("threw \(error), not a FuzzFailure", sourceLocation: sourceLocation)
    }
}
