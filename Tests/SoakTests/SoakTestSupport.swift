import Glibc
import Testing
import Soak
import Swap
import TestSupport

/// Whether swap regions can run here; records the reason (a failure under CI=true) when not.
func regionsAvailable(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    if case .failure(let error) = SwapRegion.probe() {
        CIGate.unavailable("userfaultfd: \(error)", sourceLocation: sourceLocation)
        return false
    }
    return true
}

/// The built `uswap`, or nil (with the reason recorded) when it was not built.
func uswapPath(sourceLocation: SourceLocation = #_sourceLocation) -> String? {
    guard let path = BuiltProducts.path(of: "uswap") else {
        CIGate.unavailable("the uswap executable was not built beside the tests (swift build --build-tests)", sourceLocation: sourceLocation)
        return nil
    }
    return path
}

/// A plan for round `index` of seed 1 with its workers' time set to `milliseconds`.
func shortPlan(_ index: Int, milliseconds: Int = 400, adjust: (inout SoakRoundPlan) -> Void = { _ in }) -> SoakRoundPlan {
    var plan = SoakRoundPlan(seed: 1, index: index, threads: 2, milliseconds: milliseconds)
    adjust(&plan)
    return plan
}

/// A new empty directory under /tmp (the caller removes it), or nil when none can be made.
func makeTemporaryDirectory() -> String? {
    var template = Array("/tmp/uswap-soak-test-XXXXXX".utf8CString)
    guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else { return nil }
    return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
