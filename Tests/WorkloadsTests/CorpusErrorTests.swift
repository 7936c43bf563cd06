import Testing
import Workloads

@Suite struct CorpusErrorTests {
    @Test func errorMessagesSayWhatToDo() {
        #expect(CorpusError.invalidPageSize(5000).description.contains("power of two"))
        #expect(CorpusError.missing(path: "/x").description.contains("/x"))
        #expect(CorpusError.smallerThanAPage(path: "/x", size: 10, pageSize: 4096).description.contains("--page-size"))
    }
}
