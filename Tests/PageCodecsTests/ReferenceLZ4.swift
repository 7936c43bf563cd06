import PageCodecs
import TestSupport
import Testing

/// liblz4 (loaded at run time) as the reference the Swift codec is compared with, or nil after
/// saying why through ``CIGate``: only Swift is needed for the tests, so where liblz4 is not
/// installed (Debian: `apt-get install liblz4-1`) the comparisons skip with a printed reason,
/// and fail under CI=true, where it must be present.
func referenceLZ4(acceleration: Int = 1, sourceLocation: SourceLocation = #_sourceLocation) -> LibLZ4? {
    do {
        return try LibLZ4(acceleration: acceleration)
    } catch {
        CIGate.unavailable("liblz4 as the reference (apt-get install liblz4-1): \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
