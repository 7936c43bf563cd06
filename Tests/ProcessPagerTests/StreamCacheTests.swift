import CProcessPager
import Foundation
@testable import ProcessPager
import TestSupport
import Testing

/// A directory on a filesystem whose page cache fadvise can drop (not tmpfs, whose pages are the
/// file): the temporary directory, else /var/tmp, else the current one. Each is probed with a
/// small synced file dropped as a whole.
enum DiskDirectory {
    static func path(sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        for candidate in [NSTemporaryDirectory(), "/var/tmp", FileManager.default.currentDirectoryPath] {
            guard let probe = try? StreamedFile(in: candidate, mib: 1) else { continue }
            if probe.cached(0, 1 << 20) > 0, uswap_drop_file_cache(probe.fd, 0, 1 << 20) == 0, probe.cached(0, 1 << 20) == 0 {
                return candidate
            }
        }
        CIGate.unavailable("a writable directory whose page cache can be dropped (not tmpfs; cachestat(2), Linux 6.5+)", sourceLocation: sourceLocation)
        return nil
    }
}

/// A file of `mib` MiB written and synced through a descriptor left at its end.
final class StreamedFile {
    let path: String
    let fd: Int32

    init(in directory: String, mib: Int, sync: Bool = true) throws {
        path = directory + "/uswap-streamcache-\(getpid())-\(UUID().uuidString).bin"
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        let chunk = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 12) }
        for _ in 0..<mib {
            let written = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == chunk.count else { throw POSIXError(.EIO) }
        }
        if sync { fsync(fd) }
    }

    /// Pages of `[offset, offset + length)` in the page cache.
    func cached(_ offset: Int, _ length: Int) -> Int64 { uswap_cached_pages(fd, UInt64(offset), UInt64(length)) }

    /// Whether every byte reads back as written.
    func intact(mib: Int) -> Bool {
        let expected = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 12) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        for i in 0..<mib {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(i << 20)) }
            if n != buffer.count || buffer != expected { return false }
        }
        return true
    }

    deinit {
        close(fd)
        unlink(path)
    }
}

@Suite struct StreamCacheTests {
    static let mib = 1 << 20

    @Test func onlyARangeOfHalfAMiBOrMoreThatIsMoreThanAMiBBehindThePositionIsDropped() {
        #expect(StreamCache.keptBehindBytes == Self.mib && StreamCache.minimumDropBytes == Self.mib / 2)
        #expect(StreamCache.droppableRange(position: 0, size: 0) == nil)
        #expect(StreamCache.droppableRange(position: 3 * Self.mib / 2 - 1, size: 64 * Self.mib) == nil)
        #expect(StreamCache.droppableRange(position: 3 * Self.mib / 2, size: 64 * Self.mib) == Self.mib / 2)
        #expect(StreamCache.droppableRange(position: 16 * Self.mib, size: 64 * Self.mib) == 15 * Self.mib)
        // A position past the end (lseek beyond it) counts as the end.
        #expect(StreamCache.droppableRange(position: 64 * Self.mib, size: 8 * Self.mib) == 7 * Self.mib)
    }

    @Test func theCacheBehindAWritersPositionGoesAndItsLastMiBAndTheDataStay() throws {
        guard let directory = DiskDirectory.path() else { return }
        let file = try StreamedFile(in: directory, mib: 16)
        #expect(file.cached(0, 16 * Self.mib) == 4096)
        let dropped = StreamCache.trim(pid: getpid(), descriptor: file.fd)
        #expect((dropped ?? 0) >= 14 * Self.mib, "dropped \(String(describing: dropped))")
        #expect(file.cached(0, 15 * Self.mib) == 0)
        #expect(file.cached(15 * Self.mib, Self.mib) == 256, "the last MiB behind the position stays")
        // Nothing is left to drop the second time: counted as a stream, 0 bytes.
        #expect(StreamCache.trim(pid: getpid(), descriptor: file.fd) == 0)
        #expect(file.intact(mib: 16))
    }

    @Test func dirtyPagesAreWrittenBackAndDroppedAtALaterPassNeverLost() throws {
        guard let directory = DiskDirectory.path() else { return }
        let file = try StreamedFile(in: directory, mib: 8, sync: false)
        var dropped = StreamCache.trim(pid: getpid(), descriptor: file.fd) ?? 0
        fsync(file.fd)  // the first pass started the writeback; this waits for it
        dropped += StreamCache.trim(pid: getpid(), descriptor: file.fd) ?? 0
        #expect(file.cached(0, 7 * Self.mib) == 0)
        #expect(dropped >= 6 * Self.mib, "dropped \(dropped)")
        #expect(file.intact(mib: 8))
    }

    @Test func aDescriptorNearTheStartOfItsFileIsNoStream() throws {
        guard let directory = DiskDirectory.path() else { return }
        let file = try StreamedFile(in: directory, mib: 8)
        lseek(file.fd, off_t(Self.mib + Self.mib / 4), SEEK_SET)
        #expect(StreamCache.trim(pid: getpid(), descriptor: file.fd) == nil)
        #expect(file.cached(0, 8 * Self.mib) == 2048, "nothing dropped")
    }

    @Test func pipesFifosSocketsAndClosedDescriptorsAreNeverOpened() throws {
        var pipes: [Int32] = [0, 0]
        #expect(pipe(&pipes) == 0)
        defer { close(pipes[0]); close(pipes[1]) }
        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer { close(pair[0]); close(pair[1]) }
        let fifo = NSTemporaryDirectory() + "uswap-streamcache-fifo-\(getpid())"
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        // O_RDWR opens a FIFO without a peer; an O_RDONLY open of it by the trimmer would block
        // forever without O_NONBLOCK.
        let fifoFD = open(fifo, O_RDWR | O_CLOEXEC)
        #expect(fifoFD >= 0)
        defer { close(fifoFD) }
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { close(devNull) }
        for fd in [pipes[0], pipes[1], pair[0], fifoFD, devNull] {
            #expect(StreamCache.trim(pid: getpid(), descriptor: fd) == nil, "descriptor \(fd)")
        }
        let unused = dup(devNull)
        close(unused)
        #expect(StreamCache.trim(pid: getpid(), descriptor: unused) == nil)
        #expect(StreamCache.trim(pid: 0x7fff_fff0, descriptor: 0) == nil, "a process that does not exist")
    }

    @Test func aPassOverAProcessFindsItsStreamsAmongItsOtherDescriptors() throws {
        guard let directory = DiskDirectory.path() else { return }
        let file = try StreamedFile(in: directory, mib: 8)
        #expect(StreamCache.descriptors(of: getpid()).contains(file.fd))
        #expect(StreamCache.descriptors(of: 0x7fff_fff0).isEmpty)
        let trim = StreamCache.trim(pids: [getpid(), 0x7fff_fff0])
        #expect(trim.streams >= 1)
        #expect(file.cached(0, 7 * Self.mib) == 0)
        #expect(file.intact(mib: 8))
    }
}

/// `uswap run` of a program that writes and reads back a file four times its limit.
@Suite(.serialized) struct RunStreamCacheTests {
    @Test(arguments: [false, true])
    func aProgramStreamingAFileLeavesLittleOfItCachedUnlessToldToKeepIt(keep: Bool) async throws {
        guard let uswap = RunEnvironment.uswap(), let directory = DiskDirectory.path() else { return }
        let path = directory + "/uswap-streaming-\(getpid())-\(keep).bin"
        defer { unlink(path) }
        let run = try await ManagedRun.start(
            uswap, program: "streaming", ["32", path], resident: "8M", extra: keep ? ["--keep-file-cache"] : [])
        #expect(run.run.exitCode == 0, "\(run.run.output)")
        #expect(run.run.output.contains("streaming ok: 32 MiB"), "\(run.run.output)")
        let dropped = run.report?.pager.fileCacheDroppedBytes ?? -1
        if keep {
            #expect(dropped == 0)
        } else {
            // Written then read: each pass leaves at most its last MiB plus one sample's worth.
            #expect(dropped >= 32 << 20, "dropped \(dropped)")
        }
    }
}
