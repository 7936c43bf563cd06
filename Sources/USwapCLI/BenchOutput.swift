import FoundationEssentials
import SystemSupport

// Output helpers shared by the `uswap` commands: JSON for scripts (exactly one object on
// stdout), aligned tables for people, and progress and warnings on stderr.

/// The `--json` output: every report is `Encodable`, and this renders it as one compact object
/// with its members sorted, so output is stable between runs (and the scoreboard, which reads
/// the first memory figure of an entry, finds the same one every time).
enum JSONOutput {
    /// `value` as compact JSON text (no newline). A number that is not finite, which no report
    /// should hold, is written as a string rather than failing the command.
    static func render(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

