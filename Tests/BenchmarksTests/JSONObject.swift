import Foundation

/// The `--json` text of `report`, encoded as `uswap`'s JSONOutput does (members sorted).
func jsonText(_ report: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return String(decoding: try encoder.encode(report), as: UTF8.self)
}

/// The `--json` object of `report`, parsed back as a script would.
func jsonObject(_ report: some Encodable) throws -> [String: Any] {
    let parsed = try JSONSerialization.jsonObject(with: Data(try jsonText(report).utf8))
    guard let object = parsed as? [String: Any] else { throw CocoaError(.coderReadCorrupt) }
    return object
}
