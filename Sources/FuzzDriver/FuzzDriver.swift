#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FuzzChecks
import SystemSupport
#if FUZZING
import FuzzEngine
#endif

/// The `main` of every fuzz executable (`Sources/Fuzz<Target>/main.swift` is one line).
///
/// Built with `-sanitize=fuzzer,address -DFUZZING` (`scripts/fuzz.sh`), it hands the process's
/// arguments to libFuzzer, which calls the target's ``FuzzCheck/check(_:)`` on every input and
/// keeps any input that makes it fail (the check prints the failure, then aborts). Built
/// normally, it replays: every file named on the command line, or every file in a named
/// directory, goes through the same check; the exit status is 1 when any fails.
///
/// Both builds also take `--write-seeds DIR`: write the target's seed inputs into DIR.
public enum FuzzDriver {
    /// Runs the executable for `check`; never returns.
    public static func main<Check: FuzzCheck>(_ check: Check.Type) -> Never {
        let arguments = CommandLine.arguments
        if let index = arguments.firstIndex(of: "--write-seeds") {
            guard index + 1 < arguments.count else { fail("--write-seeds needs a directory: --write-seeds Tests/FuzzCorpus/\(Check.name)") }
            let directory = arguments[index + 1]
            do {
                let count = try FuzzCorpus.write(seeds: Check.seeds(), to: directory)
                print("\(Check.name): wrote \(count) seeds to \(directory)")
                exit(0)
            } catch {
                fail("\(Check.name): could not write the seeds to \(directory): \(error)")
            }
        }
        let instance: Check
        do { instance = try Check() } catch { fail("\(error)") }
        #if FUZZING
        fuzz(instance)
        #else
        replay(instance, paths: Array(arguments.dropFirst()))
        #endif
    }

    /// Prints `message` to standard error and exits with status 2.
    static func fail(_ message: String) -> Never {
        StandardError.write(message + "\n")
        exit(2)
    }

    /// Runs every input at `paths` through `check`.
    static func replay<Check: FuzzCheck>(_ check: Check, paths: [String]) -> Never {
        guard !paths.isEmpty else {
            fail("usage: \(Check.name) FILE|DIR... (replays inputs through the check; build with scripts/fuzz.sh to fuzz) | --write-seeds DIR")
        }
        var runs = 0
        var failures = 0
        for path in paths {
            let inputs = FuzzCorpus.inputs(at: path)
            if inputs.isEmpty { StandardError.write("\(Check.name): no input at \(path)\n") }
            for input in inputs {
                runs += 1
                do throws(FuzzFailure) { try check.check(input.bytes) } catch {
                    failures += 1
                    StandardError.write("\(input.name): \(error)\n")
                }
            }
        }
        print("\(Check.name): \(runs) inputs, \(failures) failed")
        exit(failures == 0 && runs > 0 ? 0 : 1)
    }

    #if FUZZING
    /// The check libFuzzer's callback runs (a C function pointer cannot capture it).
    nonisolated(unsafe) static var active: (any FuzzCheck)?

    /// Hands the process to libFuzzer, with the target's `-max_len` unless one is given.
    static func fuzz<Check: FuzzCheck>(_ check: Check) -> Never {
        active = check
        var arguments = CommandLine.arguments
        if !arguments.contains(where: { $0.hasPrefix("-max_len=") }) {
            arguments.insert("-max_len=\(Check.maximumInputLength)", at: 1)
        }
        // The strings live until exit: libFuzzer keeps pointers into argv.
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var argc = Int32(arguments.count)
        let status = argv.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var base: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
            return LLVMFuzzerRunDriver(&argc, &base) { data, size in
                let input = UnsafeRawBufferPointer(start: data, count: size)
                do throws(FuzzFailure) { try FuzzDriver.active?.check(input) } catch {
                    StandardError.write("\n==== \(error)\n")
                    abort()
                }
                return 0
            }
        }
        exit(status)
    }
    #endif
}
