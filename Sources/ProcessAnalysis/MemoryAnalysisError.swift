import PageCodecs
import SystemPackage

/// What stopped an analysis, with what to do about it.
public enum MemoryAnalysisError: Error, CustomStringConvertible {
    /// The process could not be read (gone, permission, a system error).
    case process(ProcessMemoryError)
    /// A codec stream could not be made (e.g. libzstd missing).
    case codec(name: String, CodecError)
    /// The pool for a codec could not be made or refused a page.
    case pool(codec: String, reason: String)
    /// The dump file could not be created or written.
    case dump(path: String, errno: Errno)
    /// A sample percentage outside 0 < p <= 100.
    case invalidSample(Double)

    /// What happened and what to do.
    public var description: String {
        switch self {
        case .process(let error): return error.description
        case .codec(let name, let error): return "codec \(name): \(error)"
        case .pool(let codec, let reason):
            return "the \(codec) pool failed: \(reason); try a smaller --sample"
        case .dump(let path, let code):
            return "cannot write the dump \(path): \(code); choose a writable path with room for it"
        case .invalidSample(let value):
            return "--sample \(value) is not a percentage above 0 and at most 100"
        }
    }
}
