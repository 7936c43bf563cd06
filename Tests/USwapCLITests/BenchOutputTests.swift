import Foundation
import Testing

import Benchmarks
@testable import USwapCLI

@Suite struct BenchOutputTests {
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
