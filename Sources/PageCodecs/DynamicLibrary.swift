#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A shared library loaded at run time with `dlopen`, kept loaded for the life of the process.
///
/// Used for the system's libzstd (the zstd codec) and liblz4 (the reference codec the tests and
/// benchmarks compare against), so that neither is needed to build or to run anything else.
/// The handle is never closed: symbols taken from it stay valid forever, which is what makes
/// storing them in `Sendable` values safe.
struct DynamicLibrary: @unchecked Sendable {
    /// The name it was opened by, for messages.
    let name: String
    private let handle: UnsafeMutableRawPointer

    /// Opens the first of `names` that loads.
    /// - Throws: ``CodecError/libraryUnavailable(library:reason:)`` with `dlerror`'s text.
    init(_ names: [String]) throws(CodecError) {
        var reason = "no candidate names"
        for candidate in names {
            if let h = dlopen(candidate, RTLD_NOW | RTLD_LOCAL) {
                self.name = candidate
                self.handle = h
                return
            }
            reason = dlerror().map { String(cString: $0) } ?? "dlopen failed"
        }
        throw .libraryUnavailable(library: names.first ?? "?", reason: reason)
    }

    /// The address of `symbol` as a C function of type `T`.
    /// - Throws: ``CodecError/libraryUnavailable(library:reason:)`` when the symbol is missing.
    func function<T>(_ symbol: String, as type: T.Type) throws(CodecError) -> T {
        guard let p = dlsym(handle, symbol) else {
            throw .libraryUnavailable(library: name, reason: "symbol \(symbol) not found")
        }
        return unsafeBitCast(p, to: T.self)
    }
}
