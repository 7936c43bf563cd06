import SystemPackage

/// Writing to the standard error stream: progress, warnings, and what a cleanup run from a
/// signal has to say; never mixed into standard output, which `--json` keeps for one object.
public enum StandardError {
    /// Writes `text` whole to `descriptor` (standard error unless a test passes a pipe),
    /// resuming after signals; a failure is dropped, as there is nowhere left to report it.
    public static func write(_ text: String, to descriptor: FileDescriptor = .standardError) {
        _ = try? descriptor.writeAll(text.utf8)
    }

    /// Writes `text` and a newline.
    public static func line(_ text: String, to descriptor: FileDescriptor = .standardError) {
        write(text + "\n", to: descriptor)
    }

    /// Whether standard error is a terminal (a progress line redraws in place only there).
    public static var isTerminal: Bool { isatty(FileDescriptor.standardError.rawValue) == 1 }
}
