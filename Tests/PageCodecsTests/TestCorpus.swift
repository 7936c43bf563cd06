import Foundation
import Testing

@testable import PageCodecs

/// The repository's own page corpus, `Tests/Corpus/mixed-small.bin.zst`: 2048 pages of 4 KiB
/// from a JVM, a Perl interpreter, a Node server and a Python interpreter that
/// `scripts/make-corpus.sh` started (see `Tests/Corpus/README.md`). Committed, so the codec
/// tests run on real memory pages in a fresh clone; decompressed once per test process with
/// this package's own ``ZstdCodec``.
enum TestCorpus {
    /// The page size of the corpus.
    static let pageSize = 4096
    /// Pages in the corpus.
    static let pageCount = 2048

    /// `Tests/Corpus/mixed-small.bin.zst`, found from this file's path.
    static let path: String = {
        URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Corpus/mixed-small.bin.zst").path
    }()

    /// The decompressed corpus, or why it could not be read.
    static let bytes: Result<[UInt8], TestCorpusUnavailable> = {
        guard let frame = FileManager.default.contents(atPath: path) else {
            return .failure(TestCorpusUnavailable(reason: "\(path) is missing: it is part of the repository (git checkout it)"))
        }
        let codec: ZstdCodec
        do { codec = try ZstdCodec(level: 1) } catch {
            return .failure(TestCorpusUnavailable(reason: "libzstd is needed to read \(path): \(error)"))
        }
        var whole = [UInt8](repeating: 0, count: pageCount * pageSize)
        let result: Result<Int, CodecError> = frame.withUnsafeBytes { src in
            whole.withUnsafeMutableBytes { dst in
                do throws(CodecError) { return .success(try codec.decompress(src, into: dst)) } catch { return .failure(error) }
            }
        }
        switch result {
        case .success(let n) where n == whole.count: return .success(whole)
        case .success(let n):
            return .failure(TestCorpusUnavailable(reason: "\(path) holds \(n) bytes, not \(whole.count): regenerate it with scripts/make-corpus.sh"))
        case .failure(let error): return .failure(TestCorpusUnavailable(reason: "\(path) does not decompress: \(error)"))
        }
    }()

    /// The corpus, or `nil` after printing why it is skipped: only a missing libzstd skips
    /// (and not under CI=true, where every reason is an error).
    static func load() throws -> [UInt8]? {
        switch bytes {
        case .success(let b): return b
        case .failure(let e):
            if ProcessInfo.processInfo.environment["CI"] == "true" || !e.reason.hasPrefix("libzstd") { throw e }
            print("skipping corpus test: \(e.reason)")
            return nil
        }
    }

    /// Page `index` of the corpus.
    static func page(_ corpus: [UInt8], _ index: Int) -> [UInt8] {
        Array(corpus[(index * pageSize)..<((index + 1) * pageSize)])
    }
}

/// Why the test corpus could not be loaded.
struct TestCorpusUnavailable: Error, CustomStringConvertible {
    let reason: String
    var description: String { reason }
}
