import PageCodecs
import Testing
import Workloads

@Suite struct MemoryPatternTests {
    @Test(arguments: MemoryPattern.allCases)
    func fillWritesWhatExpectedPageSays(pattern: MemoryPattern) {
        let pageSize = 4096
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: 5 * pageSize, alignment: 4096)
        defer { memory.deallocate() }
        memory.initializeMemory(as: UInt8.self, repeating: 0)
        pattern.fill(memory.baseAddress!, pages: 5, pageSize: pageSize)
        for page in 0..<5 {
            #expect(Array(memory[(page * pageSize)..<((page + 1) * pageSize)]) == pattern.expectedPage(page, pageSize: pageSize))
        }
    }

    @Test func samePagesRepeatADifferentNonZeroWordEach() {
        let first = MemoryPattern.same.expectedPage(0, pageSize: 4096)
        let second = MemoryPattern.same.expectedPage(1, pageSize: 4096)
        let words = first.withUnsafeBytes { SameFilled.word(of: $0) }
        #expect(words == MemoryPattern.sameWord(page: 0) && words != 0)
        #expect(first != second)
        #expect((0..<255).allSatisfy { MemoryPattern.sameWord(page: $0) != 0 })
    }

    @Test func textAndRandomRunOnAcrossPages() {
        let sentence = MemoryPattern.sentence
        let page1 = MemoryPattern.text.expectedPage(1, pageSize: 4096)
        #expect(page1[0] == sentence[4096 % sentence.count])
        let random = MemoryPattern.random.expectedPage(1, pageSize: 4096)
        let word = random.withUnsafeBytes { $0.load(as: UInt64.self) }
        #expect(word == SplitMix64.output(512, seed: MemoryPattern.randomSeed))
        #expect(random.withUnsafeBytes { SameFilled.word(of: $0) } == nil)
    }

    @Test func onlyUntouchedLeavesPagesAlone() {
        #expect(MemoryPattern.allCases.filter { !$0.touchesPages } == [.untouched])
        #expect(MemoryPattern.untouched.expectedPage(3, pageSize: 4096).allSatisfy { $0 == 0 })
    }
}
