import Synchronization
import SystemSupport
import Testing
@testable import Swap

/// The request table the I/O threads take file reads from, without a region.
@Suite struct FileReadQueueTests {
    func request(page: Int, slot: Int) -> FileReadQueue.Request {
        var r = FileReadQueue.Request()
        r.page = page
        r.slot = slot
        return r
    }

    @Test func reserveHandsOutEverySlotOnceThenSaysFull() {
        let queue = FileReadQueue(capacity: 5)
        var taken: Set<Int> = []
        for _ in 0..<5 {
            let index = queue.reserve()
            #expect(index != nil)
            if let index { taken.insert(index) }
        }
        #expect(taken == Set(0..<5))
        #expect(queue.reserve() == nil)
        queue.release(3)
        #expect(queue.reserve() == 3)
        for i in 0..<5 { queue.release(i) }
        queue.checkInvariants()
    }

    @Test func aWaiterSleepsUntilTheIOThreadCompletesAndSeesItsOutcome() {
        let queue = FileReadQueue(capacity: 4, idleSpinNanoseconds: 0, waitSpinNanoseconds: 0)
        let taken = Atomic<Int>(-1)
        let io = Thread {
            guard let index = queue.next() else { return }
            taken.store(queue.request(index).slot, ordering: .relaxed)
            usleep(20_000)  // the waiter is asleep on the futex by now
            queue.complete(index, succeeded: false)
            #expect(queue.next() == nil)  // after stop()
        }
        let index = try! #require(queue.reserve())
        queue.submit(index, request(page: 9, slot: 77))
        #expect(queue.isInFlight(page: 9))
        #expect(!queue.isInFlight(page: 8))
        let (ok, slept) = queue.wait(index)
        #expect(!ok)
        #expect(slept)
        #expect(taken.load(ordering: .relaxed) == 77)
        queue.release(index)
        #expect(!queue.isInFlight(page: 9))
        queue.stop()
        io.join()
        queue.checkInvariants()
    }

    @Test func aCompletedRequestIsNotWaitedFor() {
        let queue = FileReadQueue(capacity: 2, waitSpinNanoseconds: 10_000)
        let index = try! #require(queue.reserve())
        queue.submit(index, request(page: 1, slot: 1))
        let taken = queue.next()
        #expect(taken == index)
        queue.complete(index, succeeded: true)
        let (ok, slept) = queue.wait(index)
        #expect(ok && !slept)
        queue.release(index)
        queue.checkInvariants()
    }

    @Test func onlyTheLastOfTheTwoArrivalsFinishesAndSeesBothHalves() {
        let queue = FileReadQueue(capacity: 2)
        for chargeFirst in [true, false] {
            let index = try! #require(queue.reserve())
            var r = request(page: 4, slot: 40)
            r.completesOnIOThread = true
            queue.submit(index, r)
            #expect(queue.next() == index)
            if chargeFirst {
                queue.setCharged(index, true)
                #expect(!queue.arrive(index))
                queue.setSucceeded(index, true)
                #expect(queue.arrive(index))
            } else {
                queue.setSucceeded(index, false)
                #expect(!queue.arrive(index))
                queue.setCharged(index, true)
                #expect(queue.arrive(index))
            }
            #expect(queue.charged(index))
            #expect(queue.succeeded(index) == chargeFirst)
            #expect(queue.request(index).completesOnIOThread)
            queue.release(index)
        }
        queue.checkInvariants()
    }

    @Test func afterStopIOThreadsTakeWhatWasSubmittedThenLeave() {
        let queue = FileReadQueue(capacity: 8, idleSpinNanoseconds: 0)
        // Three I/O threads asleep on an empty queue.
        let exits = Atomic<Int>(0)
        let taken = Atomic<Int>(0)
        let threads = (0..<3).map { _ in
            Thread {
                while let index = queue.next() {
                    taken.add(1, ordering: .relaxed)
                    queue.complete(index, succeeded: true)
                }
                exits.add(1, ordering: .relaxed)
            }
        }
        usleep(20_000)
        #expect(exits.load(ordering: .relaxed) == 0)
        // Work submitted now is done; then stop lets them all leave.
        for page in 0..<6 {
            let index = try! #require(queue.reserve())
            queue.submit(index, request(page: page, slot: page))
            #expect(queue.wait(index).succeeded)
            queue.release(index)
        }
        queue.stop()
        for t in threads { t.join() }
        #expect(exits.load(ordering: .relaxed) == 3)
        #expect(taken.load(ordering: .relaxed) == 6)
        queue.checkInvariants()
    }
}
