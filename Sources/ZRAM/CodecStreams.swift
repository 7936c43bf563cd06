import PageCodecs
import Synchronization

/// One thread's compression state: codec streams (scratch tables) and two scratch buffers.
///
/// **Ownership.** The buffers are allocated in `init` and freed in `deinit`. `scratch` receives
/// compressed output (sized for the worst case of either codec); `page` holds one page for
/// read-modify-write and recompression. Used by one thread at a time: whoever acquired it from
/// ``CodecStreams``.
final class CodecStream {
    let primary: any PageCodec
    let secondary: (any PageCodec)?
    let scratch: UnsafeMutableRawBufferPointer
    let page: UnsafeMutableRawBufferPointer

    init(primary: any PageCodec, secondary: (any PageCodec)?, pageSize: Int) {
        self.primary = primary
        self.secondary = secondary
        let worst = max(primary.maxCompressedSize(for: pageSize), secondary?.maxCompressedSize(for: pageSize) ?? 0, pageSize)
        scratch = .allocate(byteCount: worst, alignment: 64)
        scratch.initializeMemory(as: UInt8.self, repeating: 0)
        page = .allocate(byteCount: pageSize, alignment: 64)
        page.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        scratch.deallocate()
        page.deallocate()
    }

    /// The codec for a priority: 0 primary, otherwise secondary.
    @inline(__always)
    func codec(priority: Int) -> (any PageCodec)? { priority == 0 ? primary : secondary }
}

/// A fixed set of ``CodecStream``s shared by all threads, like zram's per-CPU streams.
///
/// **Ownership.** The streams and their `busy` flags are made once in `init` (two per core) and
/// freed in `deinit`. A thread takes a stream by flipping its flag false -> true with
/// compare-and-swap (acquire), starting at a slot derived from its thread id, and gives it back
/// by storing false (release). While the flag is true only the taker touches the stream; no lock
/// is held across compression.
///
/// **Invariant** (``checkInvariants()``): when no operation runs, no stream is busy.
final class CodecStreams: @unchecked Sendable {
    private let streams: ContiguousArray<CodecStream>
    private let busy: UnsafeMutablePointer<Atomic<Bool>>
    let count: Int

    /// Makes `count` streams, each with a codec from `makePrimary` (and `makeSecondary`);
    /// the names go into the error when a maker fails.
    init(
        pageSize: Int, count: Int,
        primaryName: String, makePrimary: () throws(CodecError) -> any PageCodec,
        secondaryName: String, makeSecondary: (() throws(CodecError) -> any PageCodec)?
    ) throws(ZramError) {
        var made = ContiguousArray<CodecStream>()
        made.reserveCapacity(count)
        for _ in 0..<count {
            let primary: any PageCodec
            do throws(CodecError) { primary = try makePrimary() } catch {
                throw .codecUnavailable(codec: primaryName, reason: error.description)
            }
            var second: (any PageCodec)? = nil
            if let makeSecondary {
                do throws(CodecError) { second = try makeSecondary() } catch {
                    throw .codecUnavailable(codec: secondaryName, reason: error.description)
                }
            }
            made.append(CodecStream(primary: primary, secondary: second, pageSize: pageSize))
        }
        streams = made
        self.count = count
        busy = .allocate(capacity: count)
        for i in 0..<count { (busy + i).initialize(to: Atomic(false)) }
    }

    deinit {
        busy.deinitialize(count: count)
        busy.deallocate()
    }

    /// Takes a free stream, waiting (yielding) while all are busy. Returns its index.
    @inline(__always)
    func acquire() -> Int {
        var i = (SystemMemory.threadHint() >> 8) % count
        if i < 0 { i += count }
        var tried = 0
        while true {
            if !busy[i].load(ordering: .relaxed) {
                let (done, _) = busy[i].compareExchange(
                    expected: false, desired: true, successOrdering: .acquiring, failureOrdering: .relaxed)
                if done { return i }
            }
            i += 1
            if i == count { i = 0 }
            tried += 1
            if tried == count {
                tried = 0
                SystemMemory.yield()
            }
        }
    }

    /// The stream at `index` (held by the caller).
    @inline(__always) func stream(_ index: Int) -> CodecStream { streams[index] }

    /// Gives back the stream at `index`.
    @inline(__always)
    func release(_ index: Int) { busy[index].store(false, ordering: .releasing) }

    #if DEBUG
    /// Verifies that no stream is held; call while no operation runs.
    func checkInvariants() {
        for i in 0..<count { precondition(!busy[i].load(ordering: .acquiring), "codec stream \(i) still busy") }
    }
    #endif
}
