import PageStore
import Synchronization
import SystemSupport
import Testing
import ZSwap
@testable import Swap

/// `prefault(_:)` racing a plain access to the same page, found by the soak (docs/SOAK.md,
/// /work/notes/SOAK-FINDINGS.md): in handler-thread mode with I/O threads, a prefault reads a
/// page from the file on an I/O thread while another thread touches it; the handler thread
/// sees the page's read in flight and leaves the wake to the read's completion, but a
/// prefault's completion installs the page without waking anyone.
@Suite(.serialized) struct SwapRegionPrefaultTests {
    /// Set by the touching thread once it read the page (and found it right).
    final class Flag: Sendable {
        let value = Atomic<Bool>(false)
    }

    @Test(arguments: [1, 2])
    func aThreadTouchingAPageThatAPrefaultIsReadingFromTheFileIsWoken(ioThreads: Int) throws {
        guard userfaultfdAvailable() else { return }
        let pages = 64
        let backing = try BackingFile.temporary(blockCount: pages * 2)
        defer { backing.close() }
        let file = FaultInjectingBackingFile(wrapping: backing)
        let cache = try FrontswapCache(FrontswapConfiguration(slotCount: pages * 2, poolLimit: .bytes(4 * page)), file: file)
        var configuration = SwapRegionConfiguration(size: pages * page, residentLimit: 16 * page, policy: .freeOnSwapIn)
        configuration.faultMode = .handlerThread
        configuration.fileReads = .ioThreads(ioThreads)
        let region = try SwapRegion(configuration, backend: cache)
        defer { region.close() }
        let words = region.baseAddress.assumingMemoryBound(to: UInt64.self)
        for p in 0..<pages { for i in 0..<(page / 8) { words[p * page / 8 + i] = UInt64(p) << 32 | UInt64(i) } }
        let inFile = (0..<pages).first { p in region.swapSlot(ofPage: p).map { cache.location(of: $0) == .file } ?? false }
        let target = try #require(inFile)
        let slot = try #require(region.swapSlot(ofPage: target))
        // The prefault's read takes 300 ms: the touch below lands while it is in flight.
        file.inject(.delay(microseconds: 300_000), on: .read, when: .block(slot), times: 1)

        let touched = Flag()
        let address = UInt(bitPattern: region.baseAddress) + UInt(target * page)
        let prefaulter = try NativeThread.start { try? region.prefault((target * page)..<((target + 1) * page)) }
        sleepMicroseconds(100_000)
        let toucher = try NativeThread.start {
            let word = UnsafePointer<UInt64>(bitPattern: address)!.pointee
            touched.value.store(word == UInt64(target) << 32, ordering: .releasing)
        }
        // A thread nobody wakes sleeps for ever: give it 10 s (the read takes 0.3), then wake
        // it by hand so that the region can close.
        var waited = 0
        while !touched.value.load(ordering: .acquiring) && waited < 10_000 {
            sleepMicroseconds(10_000)
            waited += 10
        }
        let woken = touched.value.load(ordering: .acquiring)
        if !woken { _ = region.uffd.wake(address, length: page) }
        prefaulter.join()
        toucher.join()
        #expect(woken, "the thread touching the page the prefault read was never woken")
    }
}
