import KernelSwap
import SystemSupport

// Output helpers shared by the `uswap` commands: JSON for scripts (exactly one object on
// stdout), aligned tables for people, and progress and warnings on stderr.

/// A JSON value, rendered compactly with object keys sorted so output is stable between runs.
enum JSONValue: Equatable, Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(stringLiteral value: String) { self = .string(value) }
    init(integerLiteral value: Int) { self = .int(value) }
    init(floatLiteral value: Double) { self = .double(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }
    init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }

    /// The value as compact JSON text (no newline). Non-finite doubles become `null`.
    var rendered: String {
        var out = ""
        render(into: &out)
        return out
    }

    private func render(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += d.isFinite ? String(d) : "null"
        case .string(let s): Self.quote(s, into: &out)
        case .array(let values):
            out += "["
            for (i, v) in values.enumerated() {
                if i > 0 { out += "," }
                v.render(into: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, key) in members.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                Self.quote(key, into: &out)
                out += ":"
                members[key]!.render(into: &out)
            }
            out += "}"
        }
    }

    private static func quote(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

/// Progress of a long task on stderr, shown only once the task has run for `delay` (1 s by
/// default), so quick runs print nothing.
///
/// On a terminal the line is redrawn in place at most ten times a second and erased by
/// ``finish()``; otherwise (a log file) a plain line is written at most every five seconds.
/// Call ``update(_:detail:)`` as often as convenient, but not per page inside a timed loop:
/// it reads the clock.
final class Progress {
    private let label: String
    private let total: Int
    private let start: Double
    private let delay: Double
    private let terminal: Bool
    private var lastDraw = -Double.infinity
    private var drawn = false

    /// Starts timing a task of `total` units (passes, pages, ...).
    init(_ label: String, total: Int, delay: Double = 1.0, terminal: Bool = StandardError.isTerminal) {
        self.label = label
        self.total = max(total, 1)
        self.delay = delay
        self.terminal = terminal
        self.start = MonotonicClock.seconds()
    }

    /// Reports that `done` units are complete; draws when it is time to.
    func update(_ done: Int, detail: String = "") {
        let now = MonotonicClock.seconds()
        guard now - start >= delay, now - lastDraw >= (terminal ? 0.1 : 5.0) else { return }
        lastDraw = now
        let percent = min(100, done * 100 / total)
        let text = "\(label): \(percent)% (\(done)/\(total))\(detail.isEmpty ? "" : " " + detail)"
        if terminal {
            StandardError.write("\r\u{1B}[K" + text)
        } else {
            StandardError.line(text)
        }
        drawn = true
    }

    /// Erases the progress line (on a terminal) if one was drawn.
    func finish() {
        if drawn && terminal { StandardError.write("\r\u{1B}[K") }
        drawn = false
    }
}

/// A plain-text table with a header row and aligned columns, for human output.
struct TextTable {
    /// How a column's cells line up.
    enum Alignment { case left, right }

    private let headers: [String]
    private let alignments: [Alignment]
    private var rows: [[String]] = []

    /// A table with these columns; `alignments` defaults to left for the first and right for the
    /// rest (a name followed by figures).
    init(headers: [String], alignments: [Alignment]? = nil) {
        self.headers = headers
        self.alignments = alignments ?? headers.indices.map { $0 == 0 ? .left : .right }
    }

    /// Adds a row; missing cells are blank, extra cells are dropped.
    mutating func append(_ cells: [String]) {
        rows.append(headers.indices.map { $0 < cells.count ? cells[$0] : "" })
    }

    /// The table as lines joined by newlines (no trailing newline).
    var rendered: String {
        let all = [headers] + rows
        let widths = headers.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.indices.map { column in
                let pad = String(repeating: " ", count: widths[column] - row[column].count)
                return alignments[column] == .left ? row[column] + pad : pad + row[column]
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }.joined(separator: "\n")
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}

/// Formats `value` with `digits` digits after the point (`1080.35`), for tables.
func formatted(_ value: Double, digits: Int) -> String {
    guard value.isFinite else { return "-" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = String(rounded)
    if text.contains("e") { return text }
    if let dot = text.firstIndex(of: ".") {
        let decimals = text.distance(from: dot, to: text.endIndex) - 1
        if digits == 0 {
            text = String(text[..<dot])
        } else if decimals < digits {
            text += String(repeating: "0", count: digits - decimals)
        } else if decimals > digits {
            text = String(text[..<text.index(dot, offsetBy: digits + 1)])
        }
    } else if digits > 0 {
        text += "." + String(repeating: "0", count: digits)
    }
    return text
}
