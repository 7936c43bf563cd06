/// One fuzz target's check: decodes an input into an operation sequence (or a block), runs it
/// against the code under test and compares every result with a model or a reference.
///
/// The fuzz executables run ``check(_:)`` on every input libFuzzer makes; the regression tests
/// run it on every seed and every kept crasher under `Tests/FuzzCorpus/<name>/`. A check must
/// be deterministic (same input, same outcome), so state that outlives one input (a codec
/// stream, scratch buffers) must not change what the next input does.
public protocol FuzzCheck: AnyObject {
    /// The fuzz executable's name, which is also its corpus directory's (`FuzzLZ4Decode`).
    static var name: String { get }
    /// libFuzzer's `-max_len` for this target: long enough for every operation it decodes.
    static var maximumInputLength: Int { get }
    /// The seed inputs the corpus starts from (written by `--write-seeds DIR`).
    static func seeds() throws(FuzzFailure) -> [[UInt8]]
    /// Sets up what every input reuses (codecs, buffers).
    /// - Throws: ``FuzzFailure`` when a library the check needs is missing.
    init() throws(FuzzFailure)
    /// Runs one input.
    /// - Throws: ``FuzzFailure`` when the code under test breaks the check.
    func check(_ input: UnsafeRawBufferPointer) throws(FuzzFailure)
}

extension FuzzCheck {
    /// Runs `input` (a convenience for tests and the replayer).
    public func check(_ input: [UInt8]) throws(FuzzFailure) {
        let outcome = input.withUnsafeBytes { bytes -> FuzzFailure? in
            do throws(FuzzFailure) { try check(bytes) } catch { return error }
            return nil
        }
        if let outcome { throw outcome }
    }

    /// A failure of this target.
    func failure(step: Int? = nil, _ message: String) -> FuzzFailure {
        FuzzFailure(target: Self.name, step: step, message)
    }
}
