import Foundation
import Testing

@testable import USwapCLI

@Suite struct BenchOutputTests {
    @Test func tablesAlignColumnsAndNumbersKeepTheirDigits() {
        var table = TextTable(headers: ["codec", "ratio"])
        table.append(["lz4", "2.640"])
        table.append(["zstd-1", "4.7"])
        #expect(table.rendered == "codec   ratio\nlz4     2.640\nzstd-1    4.7")
        #expect(formatted(1080.456, digits: 0) == "1080")
        #expect(formatted(2.6, digits: 3) == "2.600")
        #expect(formatted(4.70123, digits: 2) == "4.70")
    }

    /// What JSON escaping and the missing-value members look like, as scripts read them.
    private struct Sample: Encodable {
        var b = 1
        var a = "x\"\n/"
        var missing = Nullable<Int>(nil)
        var ratio = Nullable(finite: Double.infinity)
        var present = Nullable(finite: 2.5)
        var reason = Unavailable("no zram0")
    }

    @Test func jsonIsOneCompactSortedObjectWithNullsForMissingFigures() throws {
        #expect(try jsonText(Sample()) == #"{"a":"x\"\n/","b":1,"missing":null,"present":2.5,"ratio":null,"reason":{"unavailable":"no zram0"}}"#)
    }

    @Test func aNumberThatIsNotFiniteDoesNotFailTheCommand() throws {
        #expect(try jsonText(["x": Double.nan]) == #"{"x":"nan"}"#)
    }
}
