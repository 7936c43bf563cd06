import Foundation

@testable import USwapCLI

/// The `--json` text of `report`, as the command prints it.
func jsonText(_ report: some Encodable) throws -> String { try JSONOutput.render(report) }

/// The `--json` object of `report`, parsed back as a script would.
func jsonObject(_ report: some Encodable) throws -> [String: Any] {
    let parsed = try JSONSerialization.jsonObject(with: Data(try jsonText(report).utf8))
    guard let object = parsed as? [String: Any] else { throw CocoaError(.coderReadCorrupt) }
    return object
}
