import Synchronization
import SystemSupport

/// A ``PageFile`` that passes calls to another one, except the calls you choose, which fail,
/// come back short or corrupt, or are delayed: for testing what a store does when its file
/// misbehaves (a failed writeback must keep the page; a failed read must free nothing).
///
/// ```swift
/// let file = FaultInjectingBackingFile(wrapping: try BackingFile.temporary(blockCount: 64))
/// file.inject(.error(errno: EIO), on: .read, when: .block(5))          // every read of block 5
/// file.inject(.error(errno: ENOSPC), on: .write, when: .call(3), times: 1) // only the 3rd write
/// ...
/// file.clearFaults()
/// ```
///
/// A rule matches a call by operation and trigger; the first matching rule with uses left
/// applies (and uses one up). Counters record every call and every injected fault.
///
/// **Thread safety.** Rules and counters sit behind one mutex, held only to pick the fault;
/// the wrapped file is called outside it. This type is for tests: it allocates when rules are
/// added, not per call.
public final class FaultInjectingBackingFile: PageFile, Sendable {
    /// Which call a rule applies to.
    public enum Operation: Sendable, Hashable, CaseIterable {
        /// ``PageFile/readBlock(_:into:)``.
        case read
        /// ``PageFile/writeBlock(_:at:)``.
        case write
        /// ``PageFile/punchHole(at:count:)``.
        case punch
        /// ``PageFile/sync()``.
        case sync
    }

    /// What happens to a matched call.
    public enum Fault: Sendable, Hashable {
        /// The call is not passed on and throws `.io(errno:operation:)` with this errno.
        case error(errno: Int32)
        /// Reads: the block is read, then only its first half is kept (the rest is overwritten
        /// with 0xA5) and the call throws `.io(EIO)`, as a read cut short at end of file does.
        /// Writes: only the first half of the page reaches the file, then `.io(EIO)` is thrown.
        case short
        /// Reads only: the block is read and one byte in its middle is flipped; the call
        /// succeeds (a disk returning bad data). Elsewhere it acts like no fault.
        case corrupt
        /// The call is passed on after sleeping this many microseconds.
        case delay(microseconds: Int)
    }

    /// Which calls of an operation a rule matches.
    public enum Trigger: Sendable, Hashable {
        /// Every call.
        case always
        /// Calls on this block (for punches: a hole covering it).
        case block(Int)
        /// Calls on any block in this range.
        case blocks(Range<Int>)
        /// The nth call of the operation, counting from 1 since the file was made.
        case call(Int)
        /// Every call after the first n calls of the operation.
        case afterCalls(Int)
    }

    struct Rule {
        var operation: Operation
        var trigger: Trigger
        var fault: Fault
        var remaining: Int?
    }

    struct State {
        var rules: [Rule] = []
        var calls: [Operation: Int] = [:]
        var injected: [Operation: Int] = [:]
    }

    /// The file the calls go to.
    public let base: any PageFile
    private let state = Mutex(State())

    /// Wraps `base`; no faults until ``inject(_:on:when:times:)``.
    public init(wrapping base: any PageFile) {
        self.base = base
    }

    /// The wrapped file's page size.
    public var pageSize: Int { base.pageSize }

    /// Adds a rule: calls of `operation` matching `trigger` get `fault`, `times` times (or
    /// always, with `nil`).
    public func inject(_ fault: Fault, on operation: Operation, when trigger: Trigger = .always, times: Int? = nil) {
        state.withLock { $0.rules.append(Rule(operation: operation, trigger: trigger, fault: fault, remaining: times)) }
    }

    /// Removes every rule (counters stay).
    public func clearFaults() {
        state.withLock { $0.rules.removeAll() }
    }

    /// Calls of `operation` so far (faulted ones included).
    public func calls(_ operation: Operation) -> Int { state.withLock { $0.calls[operation, default: 0] } }

    /// Faults injected into `operation` so far.
    public func injectedFaults(_ operation: Operation) -> Int { state.withLock { $0.injected[operation, default: 0] } }

    /// Counts the call and picks its fault, if any.
    private func fault(for operation: Operation, blocks: Range<Int>) -> Fault? {
        state.withLock { s in
            let n = s.calls[operation, default: 0] + 1
            s.calls[operation] = n
            for i in s.rules.indices where s.rules[i].operation == operation {
                let rule = s.rules[i]
                if let remaining = rule.remaining, remaining <= 0 { continue }
                let matches: Bool
                switch rule.trigger {
                case .always: matches = true
                case .block(let b): matches = blocks.contains(b)
                case .blocks(let r): matches = r.overlaps(blocks)
                case .call(let k): matches = n == k
                case .afterCalls(let k): matches = n > k
                }
                guard matches else { continue }
                if let remaining = rule.remaining { s.rules[i].remaining = remaining - 1 }
                s.injected[operation, default: 0] += 1
                return rule.fault
            }
            return nil
        }
    }

    // MARK: PageFile

    /// Reads through the wrapped file, unless a rule says otherwise.
    public func readBlock(_ index: Int, into buffer: UnsafeMutableRawBufferPointer) throws(PageStoreError) {
        switch fault(for: .read, blocks: index..<(index + 1)) {
        case nil:
            try base.readBlock(index, into: buffer)
        case .error(let code)?:
            throw .io(errno: code, operation: "read of block \(index) (injected fault)")
        case .short?:
            try base.readBlock(index, into: buffer)
            let half = buffer.count / 2
            UnsafeMutableRawBufferPointer(rebasing: buffer[half...]).initializeMemory(as: UInt8.self, repeating: 0xA5)
            throw .io(errno: EIO, operation: "read of block \(index): end of file after \(half) of \(buffer.count) bytes (injected short read)")
        case .corrupt?:
            try base.readBlock(index, into: buffer)
            if buffer.count > 0 { buffer[buffer.count / 2] ^= 0x5A }
        case .delay(let microseconds)?:
            sleepMicroseconds(microseconds)
            try base.readBlock(index, into: buffer)
        }
    }

    /// Writes through the wrapped file, unless a rule says otherwise.
    public func writeBlock(_ page: UnsafeRawBufferPointer, at index: Int) throws(PageStoreError) {
        switch fault(for: .write, blocks: index..<(index + 1)) {
        case nil, .corrupt?:
            try base.writeBlock(page, at: index)
        case .error(let code)?:
            throw .io(errno: code, operation: "write of block \(index) (injected fault)")
        case .short?:
            // Half the new page over what the block held: a torn write.
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: page.count, alignment: 16)
            defer { scratch.deallocate() }
            do throws(PageStoreError) { try base.readBlock(index, into: scratch) } catch {
                scratch.initializeMemory(as: UInt8.self, repeating: 0)
            }
            scratch.copyMemory(from: UnsafeRawBufferPointer(rebasing: page[..<(page.count / 2)]))
            try base.writeBlock(UnsafeRawBufferPointer(scratch), at: index)
            throw .io(errno: EIO, operation: "write of block \(index): cut short after \(page.count / 2) of \(page.count) bytes (injected)")
        case .delay(let microseconds)?:
            sleepMicroseconds(microseconds)
            try base.writeBlock(page, at: index)
        }
    }

    /// Punches through the wrapped file, unless a rule says otherwise.
    @discardableResult
    public func punchHole(at index: Int, count: Int) throws(PageStoreError) -> Bool {
        switch fault(for: .punch, blocks: index..<(index + max(count, 1))) {
        case nil, .corrupt?, .short?:
            return try base.punchHole(at: index, count: count)
        case .error(let code)?:
            throw .io(errno: code, operation: "punch a hole of \(count) blocks at block \(index) (injected fault)")
        case .delay(let microseconds)?:
            sleepMicroseconds(microseconds)
            return try base.punchHole(at: index, count: count)
        }
    }

    /// Syncs the wrapped file, unless a rule says otherwise.
    public func sync() throws(PageStoreError) {
        switch fault(for: .sync, blocks: 0..<Int.max) {
        case nil, .corrupt?, .short?:
            try base.sync()
        case .error(let code)?:
            throw .io(errno: code, operation: "fsync (injected fault)")
        case .delay(let microseconds)?:
            sleepMicroseconds(microseconds)
            try base.sync()
        }
    }

    /// Truncates the wrapped file (never faulted).
    public func truncate(toBlocks blockCount: Int) throws(PageStoreError) {
        try base.truncate(toBlocks: blockCount)
    }

    /// The wrapped file's counters (injected failures never reach it, so they are not there:
    /// see ``injectedFaults(_:)``).
    public var ioCounters: PageFileCounters { base.ioCounters }
}
