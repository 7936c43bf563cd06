import Foundation
import KernelSwap
import PageStore
import Swap
import SystemPackage
import SystemSupport
import TestSupport
import Testing

@testable import Benchmarks
import SecondTier


/// The bench's backing files (`--backend zswap:FILE`, `--writeback FILE`): new and private,
/// never through a link, never over data without `--force`, removed at the end and on
/// SIGINT/SIGTERM, and with a directory for FILE, unnamed (nothing outlives even SIGKILL).
@Suite(.serialized) struct BenchBackendTests {
    /// Both kinds of bench file, made at `path` with `existing`, registering in `registry`.
    static func make(_ kind: String, _ path: String, existing: ExistingFilePolicy, registry: CleanupRegistry) throws -> BenchBackend {
        if kind == "zswap" {
            return try BenchBackend.zswap(
                sizeBytes: 8 << 20, path: path, poolLimit: .bytes(1 << 20), existing: existing, registry: registry)
        }
        return try BenchBackend.zram(
            sizeBytes: 8 << 20, memLimitBytes: nil, writebackPath: path, poolLimit: .bytes(1 << 20), existing: existing,
            registry: registry)
    }

    @Test(arguments: ["zswap", "zram"])
    func theFileIsPrivateRemovedAtTheEndAndTheRemovalIsRegisteredMeanwhile(kind: String) throws {
        let directory = try ScratchDirectory("benchbackend")
        defer { directory.remove() }
        let path = directory.path + "/tier.swap"
        let registry = CleanupRegistry()
        let backend = try Self.make(kind, path, existing: .refuseNonEmpty, registry: registry)
        var info = stat()
        #expect(lstat(path, &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(Int(info.st_blocks) * 512 >= 8 << 20, "preallocated like a swap file")
        #expect(registry.pendingNames == ["rm \(path)"])
        backend.close()
        #expect(directory.names == [])
        #expect(registry.pendingNames == [], "nothing left for a signal to do")
    }

    @Test(arguments: ["zswap", "zram"])
    func whatASignalRunsRemovesTheFile(kind: String) throws {
        let directory = try ScratchDirectory("benchbackend")
        defer { directory.remove() }
        let path = directory.path + "/tier.swap"
        let registry = CleanupRegistry()
        let backend = try Self.make(kind, path, existing: .refuseNonEmpty, registry: registry)
        #expect(registry.runAll() == ["rm \(path)"])  // what SIGINT/SIGTERM/SIGHUP run
        #expect(directory.names == [])
        backend.close()
    }

    @Test(arguments: ["zswap", "zram"])
    func aLinkPlantedAtThePathIsRefusedAndItsTargetKept(kind: String) throws {
        let directory = try ScratchDirectory("benchbackend")
        defer { directory.remove() }
        let target = try directory.file("victim", [1, 2, 3])
        let path = directory.path + "/tier.swap"
        #expect(symlink(target, path) == 0)
        for existing in [ExistingFilePolicy.refuseNonEmpty, .replaceRegularFile] {
            let error = #expect(throws: BenchBackendError.self) {
                _ = try Self.make(kind, path, existing: existing, registry: CleanupRegistry())
            }
            #expect(error?.description.contains("symbolic link") == true, "\(String(describing: error))")
        }
        #expect(directory.contents("victim") == [1, 2, 3])
        #expect(directory.names == ["tier.swap", "victim"])
    }

    @Test(arguments: ["zswap", "zram"])
    func aFileHoldingDataIsKeptUnlessForced(kind: String) throws {
        let directory = try ScratchDirectory("benchbackend")
        defer { directory.remove() }
        let path = try directory.file("tier.swap", [5, 5])
        let error = #expect(throws: BenchBackendError.self) {
            _ = try Self.make(kind, path, existing: .refuseNonEmpty, registry: CleanupRegistry())
        }
        #expect(error?.description.contains("--force") == true)
        #expect(directory.contents("tier.swap") == [5, 5])
        let backend = try Self.make(kind, path, existing: .replaceRegularFile, registry: CleanupRegistry())
        backend.close()
        #expect(directory.names == [], "the file --force made was the bench's, so it is removed")
    }

    @Test func devicesAndMissingDirectoriesAreRefused() {
        #expect(throws: BenchBackendError.self) {
            _ = try BenchBackend.zswap(sizeBytes: 8 << 20, path: "/dev/null", poolLimit: .bytes(1 << 20), registry: CleanupRegistry())
        }
        #expect(access("/dev/null", F_OK) == 0)
        #expect(throws: BenchBackendError.self) {
            _ = try BenchBackend.zswap(
                sizeBytes: 8 << 20, path: "/nonexistent-dir/x.swap", poolLimit: .bytes(1 << 20), registry: CleanupRegistry())
        }
    }

    @Test(arguments: ["zswap", "zram"])
    func aDirectoryHoldsAnUnnamedFile(kind: String) throws {
        let directory = try ScratchDirectory("benchbackend")
        defer { directory.remove() }
        let registry = CleanupRegistry()
        let backend = try Self.make(kind, directory.path, existing: .refuseNonEmpty, registry: registry)
        #expect(backend.file?.path == directory.path + "/(unnamed)")
        #expect(directory.names == [] && registry.pendingNames == [], "no name: nothing to remove, even after SIGKILL")
        backend.close()
        #expect(directory.names == [])
    }
}

/// The built `uswap bench swap` interrupted by a signal while it runs.
@Suite(.serialized) struct BenchBackendSignalTests {
    /// Runs `uswap bench swap` with `backend` arguments in the background of a shell (with
    /// SIGINT back at its default: a shell without job control starts background jobs with it
    /// ignored, and the bench keeps an ignored signal ignored), waits until the shell condition `ready` holds (`$pid`
    /// is the bench's; at most 30 s), sends `signal` and reports
    /// `status=<exit status> left=[<names in directory>]`.
    static func interrupt(backend: [String], ready: String, signal: String, directory: String) async throws -> [String: String]? {
        if case .failure(let error) = SwapRegion.probe() {
            CIGate.unavailable("userfaultfd, for the bench's region: \(error)")
            return nil
        }
        guard let uswap = BuiltProducts.path(of: "uswap") else {
            CIGate.unavailable("the uswap executable is not built next to the tests")
            return nil
        }
        let corpus = try writeCorpus(pages: 64, noisy: true)
        defer { unlink(corpus) }
        let command = ([uswap, "bench", "swap", "--corpus", corpus, "--size", "8", "--resident", "2", "--touches", "2000000000",
                        "--write-pct", "30", "--json"] + backend).map { "'\($0)'" }.joined(separator: " ")
        let script = """
            env --default-signal=INT \(command) > /dev/null 2>&1 &
            pid=$!
            i=0
            while ! { \(ready); } && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
            sleep 0.5
            kill -\(signal) $pid
            wait $pid
            echo "status=$? left=[$(ls -A '\(directory)' | tr '\\n' ',')]"
            """
        let run = try await HelperProcess.run(path: "/bin/sh", ["-c", script])
        return run.fields(of: "status=")
    }

    @Test(arguments: [("TERM", "143"), ("INT", "130")])
    func aSignalRemovesTheNamedFile(signal: String, status: String) async throws {
        let directory = try ScratchDirectory("benchbackend")
        defer { directory.remove() }
        let path = directory.path + "/tier.swap"
        guard let fields = try await Self.interrupt(
            backend: ["--backend", "zswap:\(path)", "--pool-limit", "1"], ready: "[ -e '\(path)' ]", signal: signal,
            directory: directory.path)
        else { return }
        #expect(fields["status"] == status, "\(fields)")
        #expect(fields["left"] == "[]", "the file is gone: \(fields)")
    }

    @Test func sigkillLeavesNothingWhenTheFileIsUnnamed() async throws {
        let directory = try ScratchDirectory("benchbackend")
        defer { directory.remove() }
        // No name appears: wait until the bench holds its unnamed file ("DIR/#INODE (deleted)").
        guard let fields = try await Self.interrupt(
            backend: ["--backend", "zram", "--writeback", directory.path, "--pool-limit", "1"],
            ready: "ls -l /proc/$pid/fd 2>/dev/null | grep -q '\(directory.path)/#'", signal: "KILL", directory: directory.path)
        else { return }
        #expect(fields["status"] == "137", "\(fields)")
        #expect(fields["left"] == "[]", "\(fields)")
    }
}
