import Foundation
import PageCodecs
import Testing

/// The repository's own page corpus, `Tests/Corpus/mixed-small.bin.zst`: 2048 pages of 4 KiB
/// from a JVM, a Perl interpreter, a Node server and a Python interpreter that
/// `scripts/make-corpus.sh` started itself (see `Tests/Corpus/README.md`). It is committed, so
/// every test that wants real memory pages runs in a fresh clone, with nothing beside it
/// (nothing outside the repository); it is decompressed once per test process with this package's own
/// ``ZstdCodec`` (libzstd, loaded at run time).
///
/// ```swift
/// guard let corpus = TestCorpus.load() else { return }   // said why, through CIGate
/// let page = TestCorpus.page(corpus, 7)
/// ```
public enum TestCorpus {
    /// The page size of the corpus.
    public static let pageSize = 4096
    /// Pages in the corpus.
    public static let pageCount = 2048

    /// `Tests/Corpus/mixed-small.bin.zst`, found from this file's path
    /// (`Sources/TestSupport/TestCorpus.swift`).
    public static let path: String = {
        URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tests/Corpus/mixed-small.bin.zst").path
    }()

    /// The decompressed corpus, or why it could not be read.
    public static let bytes: Result<[UInt8], TestCorpusUnavailable> = {
        guard let frame = FileManager.default.contents(atPath: path) else {
            return .failure(TestCorpusUnavailable(reason: "\(path) is missing: it is part of the repository (git checkout it)"))
        }
        let codec: ZstdCodec
        do { codec = try ZstdCodec(level: 1) } catch {
            return .failure(TestCorpusUnavailable(
                reason: "libzstd is needed to read \(path) (Debian: apt-get install libzstd1): \(error)", isMissingLibrary: true))
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

    /// The corpus, or nil after saying why: a missing libzstd goes through ``CIGate`` (a printed
    /// skip, a failure under CI=true); a missing or damaged corpus file is always a failure,
    /// since it is part of the repository.
    public static func load(sourceLocation: SourceLocation = #_sourceLocation) -> [UInt8]? {
        switch bytes {
        case .success(let b): return b
        case .failure(let e) where e.isMissingLibrary:
            CIGate.unavailable("the test corpus: \(e.reason)", sourceLocation: sourceLocation)
            return nil
        case .failure(let e):
            Issue.record("the test corpus: \(e.reason)", sourceLocation: sourceLocation)
            return nil
        }
    }

    /// Page `index` of the corpus.
    public static func page(_ corpus: [UInt8], _ index: Int) -> [UInt8] {
        Array(corpus[(index * pageSize)..<((index + 1) * pageSize)])
    }
}

/// Why the test corpus could not be loaded.
public struct TestCorpusUnavailable: Error, CustomStringConvertible {
    /// What went wrong and what to do.
    public let reason: String
    /// Whether the cause is a missing library (libzstd), not the corpus itself.
    public let isMissingLibrary: Bool

    /// A reason; `isMissingLibrary` when a library is what is missing.
    public init(reason: String, isMissingLibrary: Bool = false) {
        self.reason = reason
        self.isMissingLibrary = isMissingLibrary
    }

    /// The reason.
    public var description: String { reason }
}
