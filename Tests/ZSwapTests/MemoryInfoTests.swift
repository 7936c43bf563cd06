import Testing
@testable import ZSwap

@Suite struct MemoryInfoTests {
    @Test func memTotalIsParsedFromMeminfoText() {
        let text = "MemFree:  100 kB\nMemTotal:       24567892 kB\nSwapTotal: 0 kB\n"
        #expect(MemoryInfo.memTotal(inMeminfo: text) == 24_567_892 * 1024)
        #expect(MemoryInfo.memTotal(inMeminfo: "MemFree: 1 kB\n") == nil)
        #expect(MemoryInfo.memTotal(inMeminfo: "MemTotal: lots\n") == nil)
    }

    @Test func thisMachineHasSomeMemory() {
        #expect(MemoryInfo.totalBytes() > 64 << 20)
    }
}
