import Testing

@testable import RedisTier

@Suite("PipelineContext: one pipelined call's operations")
struct PipelineTests {
    @Test("Operations are added pending, fail with the first reason kept, and reset for the next call")
    func contextLifecycle() {
        let context = PipelineContext(capacity: 4)
        let object: [UInt8] = [1, 2]
        object.withUnsafeBytes { context.add(handle: 7, slot: 3, object: $0) }
        context.add(handle: 8, slot: 4, object: nil)
        #expect(context.count == 2)
        #expect(context.operations[0].state == .pending && context.operations[0].length == 2)
        #expect(context.operations[1].object == nil)
        context.fail(0, .closed)
        context.fail(1, .incompleteCoverage(unservedSlots: 1))
        #expect(context.failure == .closed)
        #expect(context.operations[1].state == .failed)
        context.checkInvariants()
        context.reset()
        #expect(context.count == 0 && context.failure == nil)
    }
}
