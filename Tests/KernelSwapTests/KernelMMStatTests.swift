import Foundation
import SystemPackage
import SystemSupport
import Testing

@testable import KernelSwap

@Suite struct KernelMMStatTests {
    @Test func mmStatParsesTheKernelsNineFieldLine() throws {
        let line = "67117056 25379356 27369472        0 27369472      698        0       15       15\n"
        let stat = try KernelMMStat(line: line)
        #expect(stat.origDataSize == 67_117_056)
        #expect(stat.comprDataSize == 25_379_356)
        #expect(stat.memUsedTotal == 27_369_472)
        #expect(stat.memLimit == 0)
        #expect(stat.memUsedMax == 27_369_472)
        #expect(stat.samePages == 698)
        #expect(stat.pagesCompacted == 0)
        #expect(stat.hugePages == 15)
        #expect(stat.hugePagesSince == 15)
    }

    @Test(arguments: [
        [4096, 100, 8192, 0, 8192, 1, 0],
        [4096, 100, 8192, 0, 8192, 1, 0, 3],
        [12288, 3000, 16384, 65536, 20480, 2, 5, 1, 7],
    ])
    func mmStatRoundTripsThroughTheKernelFormat(values: [Int]) throws {
        let line = ZramFixtureTree.kernelMMStatLine(values)
        let stat = try KernelMMStat(line: line)
        let expected = values + Array(repeating: 0, count: 9 - values.count)
        #expect(stat.values == expected)
        #expect(stat.namedFields.map(\.name) == KernelMMStat.fieldNames)
        if values.count == 9 { #expect(stat.line + "\n" == line) }
    }

    @Test(arguments: ["", "1 2 3", "a b c d e f g h i", "1 2 3 4 5 6 7 8 9 10", "1 2 3 4 5 -6 7 8 9"])
    func mmStatRejectsMalformedLines(line: String) {
        #expect(throws: KernelZramError.malformed(path: "mm_stat", text: line)) { try KernelMMStat(line: line) }
    }

    @Test func theCodedFormIsAnObjectKeyedByTheKernelsNames() throws {
        let stat = KernelMMStat(values: [1, 2, 3, 4, 5, 6, 7, 8, 9])
        let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(stat)) as? [String: Int]
        #expect(object == Dictionary(uniqueKeysWithValues: zip(KernelMMStat.fieldNames, 1...9)))
        #expect(try JSONDecoder().decode(KernelMMStat.self, from: JSONEncoder().encode(stat)) == stat)
    }
}
