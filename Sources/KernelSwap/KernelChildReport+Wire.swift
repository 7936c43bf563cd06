import FoundationEssentials

// The child's report crosses a pipe between two processes of this library's protocol (the
// session that starts the child and reads its standard output, and the child that measures), so
// the library owns both ends of the wire format. It is the one place the kernel's side uses
// Foundation: FoundationEssentials' JSON coders (no ICU, no full Foundation).

extension KernelChildReport {
    /// The report as one line of JSON (members sorted, no newline), for the child to print last
    /// on its standard output.
    public var jsonLine: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        // Encoding numbers, strings and booleans cannot fail.
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// The report in a child's output: its last line that starts with `{` (progress and
    /// warnings may come before it).
    ///
    /// - Throws: ``KernelSwapError/failed(_:)`` when there is no such line, or it is not a
    ///   report (a member missing or of the wrong type); the message quotes the output.
    public init(parsing text: String) throws(KernelSwapError) {
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
            throw .failed("the kernel-side child printed no result: \(text.prefix(200))")
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do {
            self = try decoder.decode(KernelChildReport.self, from: Data(line.utf8))
        } catch {
            throw .failed("the kernel-side result is not a report (\(error)): \(line.prefix(200))")
        }
    }
}
