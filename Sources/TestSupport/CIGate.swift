import Foundation
import Testing

/// Tests that need root, /dev/zram0, userfaultfd or a server skip where those are absent, with a
/// printed reason, but fail under `CI=true` (CI has all of them).
public enum CIGate {
    /// Whether the environment asks tests to fail instead of skipping (`CI=true` exactly).
    public static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// Says that `what` is unavailable: records a test failure under CI, prints a skip line
    /// otherwise. Returns so the caller can `return` right after.
    public static func unavailable(_ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        if isCI {
            Issue.record("unavailable under CI=true: \(what)", sourceLocation: sourceLocation)
        } else {
            print("skip: \(what)")
        }
    }
}
