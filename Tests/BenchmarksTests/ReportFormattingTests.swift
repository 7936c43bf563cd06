import Testing

@testable import Benchmarks

@Suite struct ReportFormattingTests {
    @Test func tablesAlignColumnsAndNumbersKeepTheirDigits() {
        var table = TextTable(headers: ["codec", "ratio"])
        table.append(["lz4", "2.640"])
        table.append(["zstd-1", "4.7"])
        #expect(table.rendered == "codec   ratio\nlz4     2.640\nzstd-1    4.7")
        #expect(formatted(1080.456, digits: 0) == "1080")
        #expect(formatted(2.6, digits: 3) == "2.600")
        #expect(formatted(4.70123, digits: 2) == "4.70")
    }
}
