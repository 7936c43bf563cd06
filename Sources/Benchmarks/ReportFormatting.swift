import SystemSupport

// What the reports share: JSON member names and nulls, progress on stderr, aligned tables.

/// A member name of a report's JSON object, written as a string literal where it is encoded.
public struct JSONKey: CodingKey, ExpressibleByStringLiteral {
    /// The member name.
    public let stringValue: String
    /// Always nil: report members are named.
    public var intValue: Int? { nil }
    /// The key named `stringValue`.
    public init(stringValue: String) { self.stringValue = stringValue }
    /// Always nil: report members are named.
    public init?(intValue: Int) { nil }
    /// The key named by a string literal.
    public init(stringLiteral value: String) { stringValue = value }
}

/// A member that is written as `null` when it has no value (a ratio with nothing to divide
/// by, a figure not measured), where a synthesized encoder would leave the member out.
public struct Nullable<Wrapped: Encodable & Sendable>: Encodable, Sendable {
    /// The value, if any.
    public var value: Wrapped?

    /// `value`, or null.
    public init(_ value: Wrapped?) { self.value = value }

    /// The value, or `null`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let value { try container.encode(value) } else { try container.encodeNil() }
    }
}

/// `bytes` as MiB with one decimal, or `unavailable` for a figure that was not measured.
public func mibOrUnavailable(_ bytes: Int?) -> String { bytes.map(mib) ?? "unavailable" }

/// The object `{"unavailable": reason}`: a side of a comparison that was not measured.
public struct Unavailable: Encodable, Sendable {
    /// Why.
    public var unavailable: String

    /// The reason.
    public init(_ reason: String) { unavailable = reason }
}

extension Nullable where Wrapped == Double {
    /// `value` when it is a finite number, else null.
    public init(finite value: Double?) { self.value = value.flatMap { $0.isFinite ? $0 : nil } }
}

/// Progress of a long task on stderr, shown only once the task has run for `delay` (1 s by
/// default), so quick runs print nothing.
///
/// On a terminal the line is redrawn in place at most ten times a second and erased by
/// ``finish()``; otherwise (a log file) a plain line is written at most every five seconds.
/// Call ``update(_:detail:)`` as often as convenient, but not per page inside a timed loop:
/// it reads the clock.
///
/// Safety of `@unchecked Sendable`: one thread updates it at a time (a workload's thread 0
/// during the touches, then the caller's thread for ``finish()``), never two at once.
public final class Progress: @unchecked Sendable {
    private let label: String
    private let total: Int
    private let start: Double
    private let delay: Double
    private let terminal: Bool
    private var lastDraw = -Double.infinity
    private var drawn = false

    /// Starts timing a task of `total` units (passes, pages, ...); draws nothing unless
    /// `enabled`.
    public init(_ label: String, total: Int, enabled: Bool = true, delay: Double = 1.0, terminal: Bool = StandardError.isTerminal) {
        self.label = label
        self.total = max(total, 1)
        self.delay = enabled ? delay : .infinity
        self.terminal = terminal
        self.start = MonotonicClock.seconds()
    }

    /// Reports that `done` units are complete; draws when it is time to.
    public func update(_ done: Int, detail: String = "") {
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
    public func finish() {
        if drawn && terminal { StandardError.write("\r\u{1B}[K") }
        drawn = false
    }

    /// Runs `body` under a progress line of `total` units (drawn only when `enabled`), giving
    /// it the function to report its units done with; returns what it returns and its wall
    /// time in seconds (the line's drawing included, as little as it is).
    public static func timed<R, E: Error>(
        _ label: String, total: Int, enabled: Bool, _ body: (@escaping @Sendable (Int) -> Void) throws(E) -> R
    ) throws(E) -> (result: R, seconds: Double) {
        let progress = Progress(label, total: total, enabled: enabled)
        defer { progress.finish() }
        let start = MonotonicClock.seconds()
        let result = try body { progress.update($0) }
        return (result, MonotonicClock.seconds() - start)
    }
}

/// A plain-text table with a header row and aligned columns, for human output.
public struct TextTable {
    /// How a column's cells line up.
    public enum Alignment { case left, right }

    private let headers: [String]
    private let alignments: [Alignment]
    private var rows: [[String]] = []

    /// A table with these columns; `alignments` defaults to left for the first and right for the
    /// rest (a name followed by figures).
    public init(headers: [String], alignments: [Alignment]? = nil) {
        self.headers = headers
        self.alignments = alignments ?? headers.indices.map { $0 == 0 ? .left : .right }
    }

    /// Adds a row; missing cells are blank, extra cells are dropped.
    public mutating func append(_ cells: [String]) {
        rows.append(headers.indices.map { $0 < cells.count ? cells[$0] : "" })
    }

    /// The table as lines joined by newlines (no trailing newline).
    public var rendered: String {
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
public func formatted(_ value: Double, digits: Int) -> String {
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
