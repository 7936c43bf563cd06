import Dispatch
import Synchronization
import Testing
@testable import KernelSwap

// The registry logic is tested here on private registries. Signal delivery itself is not tested
// in-process (the tests never fork and must not kill the test runner); the manual check is in
// the doc comment of `SignalCleanup`.
@Suite struct CleanupRegistryTests {
    /// A thread-safe log of what ran.
    final class Log: Sendable {
        let entries = Mutex<[String]>([])
        func add(_ s: String) { entries.withLock { $0.append(s) } }
        var all: [String] { entries.withLock { $0 } }
    }

    /// Thread-safe run counters.
    final class Counts: Sendable {
        let counts: Mutex<[Int]>
        init(_ n: Int) { counts = Mutex(Array(repeating: 0, count: n)) }
        func increment(_ i: Int) { counts.withLock { $0[i] += 1 } }
        var values: [Int] { counts.withLock { $0 } }
    }

    @Test func runAllRunsEveryActionNewestFirstAndOnlyOnce() {
        let registry = CleanupRegistry()
        let log = Log()
        for name in ["cgroup", "swapon", "zram0"] {
            registry.register(name) { log.add(name) }
        }
        #expect(registry.pendingNames == ["cgroup", "swapon", "zram0"])
        #expect(registry.runAll() == ["zram0", "swapon", "cgroup"])
        #expect(log.all == ["zram0", "swapon", "cgroup"])
        #expect(registry.runAll() == [])
        #expect(log.all.count == 3)
        #expect(registry.pendingNames.isEmpty)
    }

    @Test func anActionRunOnTheNormalPathDoesNotRunAgain() {
        let registry = CleanupRegistry()
        let log = Log()
        let first = registry.register("first") { log.add("first") }
        registry.register("second") { log.add("second") }
        #expect(registry.run(first))
        #expect(!registry.run(first))
        #expect(registry.runAll() == ["second"])
        #expect(log.all == ["first", "second"])
    }

    @Test func aCancelledActionNeverRuns() {
        let registry = CleanupRegistry()
        let log = Log()
        let token = registry.register("cancelled") { log.add("cancelled") }
        #expect(registry.cancel(token))
        #expect(!registry.cancel(token))
        #expect(!registry.run(token))
        #expect(registry.runAll().isEmpty)
        #expect(log.all.isEmpty)
    }

    @Test func actionsRegisteredWhileRunAllRunsAreRunToo() {
        let registry = CleanupRegistry()
        let log = Log()
        registry.register("outer") {
            log.add("outer")
            registry.register("inner") { log.add("inner") }
        }
        #expect(registry.runAll() == ["outer", "inner"])
        #expect(log.all == ["outer", "inner"])
    }

    @Test func racingRunAllAndRunStillRunEachActionExactlyOnce() {
        for _ in 0..<50 {
            let registry = CleanupRegistry()
            let counts = Counts(8)
            var tokens: [CleanupToken] = []
            for i in 0..<8 {
                tokens.append(registry.register("action \(i)") { counts.increment(i) })
            }
            let fixedTokens = tokens
            DispatchQueue.concurrentPerform(iterations: 4) { worker in
                if worker % 2 == 0 {
                    registry.runAll()
                } else {
                    for token in fixedTokens.shuffled() { registry.run(token) }
                }
            }
            #expect(counts.values == Array(repeating: 1, count: 8))
            #expect(registry.pendingNames.isEmpty)
        }
    }

    @Test func runAllWaitsForAnActionAlreadyRunningOnTheNormalPath() {
        let registry = CleanupRegistry()
        let log = Log()
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let slow = registry.register("slow restore") {
            started.signal()
            release.wait()
            log.add("slow restore done")
        }
        registry.register("other") { log.add("other") }
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { registry.run(slow) }
        started.wait()
        DispatchQueue.global().async(group: group) {
            registry.runAll()
            log.add("runAll returned")
        }
        // runAll must be blocked behind the slow restore: nothing else has run yet.
        usleepMilliseconds(50)
        #expect(log.all.isEmpty)
        release.signal()
        group.wait()
        #expect(log.all == ["slow restore done", "other", "runAll returned"])
    }

    @Test func aPendingCleanupRegistersFromACallbackAndItsOwnerCancelsIt() {
        let registry = CleanupRegistry()
        let log = Log()
        let pending = PendingCleanup(registry: registry)
        pending.cancel()  // nothing registered: nothing happens
        pending.register("rm first") { log.add("first") }
        pending.register("rm second") { log.add("second") }  // replaces the first
        #expect(registry.pendingNames == ["rm second"])
        pending.cancel()
        #expect(registry.pendingNames == [])
        #expect(registry.runAll() == [])
        #expect(log.all.isEmpty, "a cancelled action never runs")

        pending.register("rm third") { log.add("third") }
        #expect(registry.runAll() == ["rm third"])  // what a signal runs
        #expect(log.all == ["third"])
        pending.cancel()  // after it ran: nothing left, nothing runs twice
        #expect(registry.runAll() == [])
    }
}

private func usleepMilliseconds(_ ms: Int) {
    let deadline = DispatchTime.now() + .milliseconds(ms)
    let semaphore = DispatchSemaphore(value: 0)
    _ = semaphore.wait(timeout: deadline)
}
