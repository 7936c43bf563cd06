import KernelSwap
import PageStore
import SystemSupport
import ZSwap

/// Errors in setting up a bench backend's file.
public enum BenchBackendError: Error, CustomStringConvertible {
    /// The backing file at this path could not be made, preallocated or opened: check the path and its free space.
    case file(String, PageStoreError)
    /// The frontswap cache could not be made over the file: check the pool limit and the size.
    case cache(ZSwapError)

    /// What went wrong and with which file.
    public var description: String {
        switch self {
        case .file(let path, let error): "cannot use \(path) as the backing file: \(error)"
        case .cache(let error): "cannot make the frontswap cache: \(error)"
        }
    }
}

/// The backing file of a bench run, set up like a swap file (`fallocate -l`, then `swapon`
/// without `--discard`): a new file, fully allocated, kept out of the page cache (as the
/// kernel's swap I/O), removed when the run ends. Its blocks are reused as slots are reused
/// rather than punched out: punching and re-allocating a block per swap-in costs the file
/// system a journal update each time, which a swap file never pays.
///
/// `path` names a new file (mode 0600, made with `O_EXCL | O_NOFOLLOW`: a link there is refused,
/// never followed; a file that holds data is refused unless `existing` is
/// `.replaceRegularFile`, i.e. `--force`), whose name is removed at the end, and by
/// SIGINT/SIGTERM/SIGHUP through `registry`, while it still points at this file. Or `path` is a
/// directory: the file is made there unnamed (`O_TMPFILE`), and nothing is left behind even if
/// the run is killed by SIGKILL.
///
/// With `style` ``TierFileStyle/unlinked`` (`uswap run`'s files) the named file's name is
/// removed as soon as it is made, nothing is registered with `registry`, and the file is left
/// sparse rather than preallocated.
public func openBenchFile(
    _ path: String, blockCount: Int, existing: ExistingFilePolicy, registry: CleanupRegistry,
    style: TierFileStyle = .swapFile
) throws(BenchBackendError) -> (file: BackingFile, cleanup: CleanupToken?) {
    var info = stat()
    let isDirectory = lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    let file: BackingFile
    var token: CleanupToken?
    do {
        if isDirectory {
            file = try BackingFile.unnamed(in: path, blockCount: blockCount, options: [.uncached])
        } else if style == .unlinked {
            file = try BackingFile.create(
                at: path, existing: existing, blockCount: blockCount, options: [.removeOnClose, .uncached])
            // Unlinked at once: the file goes with the descriptor, even if the process is killed.
            _ = file.removeName()
        } else {
            if registry === SignalCleanup.shared { SignalCleanup.installHandlers() }
            file = try BackingFile.create(
                at: path, existing: existing, blockCount: blockCount, options: [.removeOnClose, .uncached])
            token = registry.register("rm \(path)") { file.removeName() }
        }
    } catch {
        throw .file(path, error)
    }
    guard style == .swapFile else { return (file, nil) }
    do { try file.preallocate(blocks: blockCount) } catch {
        file.close()
        if let token { registry.cancel(token) }
        throw .file(path, error)
    }
    return (file, token)
}

/// How a file tier's file is made: as `bench swap`'s swap files, or as `uswap run`'s.
public enum TierFileStyle: Sendable, Equatable {
    /// As a swap file: preallocated (its blocks reused, never punched), named until it is
    /// closed, its removal registered for SIGINT/SIGTERM/SIGHUP.
    case swapFile
    /// As `uswap run`'s files: the name removed as soon as the file is made (nothing outlives
    /// the process, even SIGKILL; no signal handler is installed, as the run forwards those
    /// signals to its program), sparse, freed blocks punched out.
    case unlinked
}
