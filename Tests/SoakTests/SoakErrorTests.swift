import PageStore
import Swap
import Testing

@testable import Soak

@Suite struct SoakErrorTests {
    @Test(arguments: [
        (SoakError.regionsUnavailable(.userfaultfdUnsupported), "swap regions cannot run here"),
        (SoakError.backingFile(directory: "/ro", .io(errno: 30, operation: "mkstemp in /ro")), "pass a writable directory with --dir"),
        (SoakError.setup(round: 4, "the region: no"), "round 4 could not be set up: the region: no"),
        (SoakError.spawn(executable: "/x", .noSuchFileOrDirectory), "cannot start /x"),
        (SoakError.invalidOption("0 threads: give 1...16"), "0 threads: give 1...16"),
    ])
    func messagesSayWhatHappenedAndWhatToDo(error: SoakError, text: String) {
        #expect(error.description.contains(text))
    }
}
