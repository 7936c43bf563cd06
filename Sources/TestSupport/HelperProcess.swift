import Foundation
import Subprocess
import SystemPackage

/// How a helper process ended and what it printed.
public struct HelperRun: Sendable {
    /// The exit code, when the process exited.
    public var exitCode: Int32?
    /// The signal that ended the process, when one did (SIGBUS for a failed swap-in).
    public var signal: Int32?
    /// Standard output and standard error, interleaved as written.
    public var output: String

    /// The first line starting with `prefix`, as its `key=value` fields.
    public func fields(of prefix: String) -> [String: String]? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return nil }
        var result: [String: String] = [:]
        for field in line.split(separator: " ") {
            let parts = field.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { result[String(parts[0])] = String(parts[1]) }
        }
        return result
    }
}

/// Why a helper could not be run.
public enum HelperProcessError: Error, CustomStringConvertible {
    /// The product was not built beside the test bundle.
    case notBuilt(String)

    /// What happened and what to do.
    public var description: String {
        switch self {
        case .notBuilt(let name): "\(name) was not found beside the test bundle: build it (swift build --product \(name))"
        }
    }
}

/// Runs the package's helper executables from tests (swift-subprocess: no fork of the
/// multithreaded test runner).
public enum HelperProcess {
    /// Runs the built product `name` with `arguments` and `environment` added to this process's
    /// environment, and waits for it. The Swift runtime's backtracer is turned off in the child
    /// (an expected SIGBUS would print pages of it).
    public static func run(
        _ name: String, _ arguments: [String], environment: [String: String] = [:], outputLimit: Int = 1 << 22
    ) async throws -> HelperRun {
        guard let path = BuiltProducts.path(of: name) else { throw HelperProcessError.notBuilt(name) }
        return try await run(path: path, arguments, environment: environment, outputLimit: outputLimit)
    }

    /// Runs the executable at `path`; see ``run(_:_:environment:outputLimit:)``.
    public static func run(
        path: String, _ arguments: [String], environment: [String: String] = [:], outputLimit: Int = 1 << 22
    ) async throws -> HelperRun {
        var updates: [Environment.Key: String?] = ["SWIFT_BACKTRACE": "enable=no"]
        for (key, value) in environment { updates[Environment.Key(stringLiteral: key)] = value }
        let result = try await Subprocess.run(
            .path(FilePath(path)), arguments: Arguments(arguments), environment: .inherit.updating(updates),
            output: .string(limit: outputLimit), error: .combinedWithOutput)
        var run = HelperRun(exitCode: nil, signal: nil, output: result.standardOutput)
        switch result.terminationStatus {
        case .exited(let code): run.exitCode = code
        case .signaled(let signal): run.signal = signal
        }
        return run
    }
}
