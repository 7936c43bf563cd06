import SystemSupport

/// The demo's work on any memory holding the table: build, operate, verify. The user-space run
/// and the kernel child run this same code.
public struct DemoWorkload: Sendable {
    /// The table.
    public let table: DemoTable
    /// Lookups and updates.
    public let operations: Int
    /// Percentage of updates.
    public let updatePercent: Int
    /// The Zipf exponent of page popularity.
    public static let zipf = 0.9

    /// The work of `operations` lookups and updates (`updatePercent` of them updates) on `table`.
    public init(table: DemoTable, operations: Int, updatePercent: Int) {
        self.table = table
        self.operations = operations
        self.updatePercent = updatePercent
    }

    /// What the operations phase did.
    public struct Operations: Sendable {
        /// Records read.
        public var lookups = 0
        /// Records rewritten at their next version.
        public var updates = 0
        /// Operations that landed on a freed (all-zero) page and were skipped.
        public var freedHits = 0
        /// Lookups whose record had the wrong id or checksum.
        public var badRecords = 0
        /// The sum of the balances read (kept so no read can be optimised away).
        public var balanceSum: Int64 = 0
        /// Wall time of the phase, seconds.
        public var seconds = 0.0
        /// CPU time of the whole process over the phase, seconds.
        public var cpuSeconds = 0.0
        /// Major page faults over the phase.
        public var majorFaults = 0

        /// Nothing done yet.
        public init() {}
    }

    /// Writes every page of the table into `memory`.
    public func build(_ memory: UnsafeMutableRawPointer, progress: (Int) -> Void) {
        for page in 0..<table.pageCount {
            table.writePage(page, into: memory + page * 4096)
            if page & 0x3FFF == 0x3FFF { progress(page + 1) }
        }
        progress(table.pageCount)
    }

    /// The operation stream: (record, isUpdate), Zipf over pages, a record within the page.
    private func stream() -> (PageLaw, XorShift64) {
        (PageLaw(pageCount: table.pageCount, zipf: Self.zipf), XorShift64(seed: 0x5EED_0F_DE30))
    }

    /// Makes the lookups and updates; `beforeTiming` runs right before the clock starts.
    public func operate(_ memory: UnsafeMutableRawPointer, beforeTiming: () -> Void = {}) -> Operations {
        let start = stream()
        let law = start.0
        var generator = start.1
        var result = Operations()
        let percent = UInt64(updatePercent)
        beforeTiming()
        let r0 = ResourceUsage.now()
        let t0 = MonotonicClock.seconds()
        for _ in 0..<operations {
            let x = generator.next()
            let page = law.page(for: x)
            let index = page * DemoTable.recordsPerPage + Int((x >> 20) % UInt64(DemoTable.recordsPerPage))
            let record = memory + index * DemoTable.recordSize
            if DemoTable.isFreed(page: page) {
                result.freedHits += 1
                continue
            }
            let id = record.load(as: UInt64.self)
            let sum = record.load(fromByteOffset: 124, as: UInt32.self)
            if id != UInt64(index) || DemoTable.checksum(UnsafeRawPointer(record)) != sum { result.badRecords += 1 }
            if (x >> 40) % 100 < percent {
                let version = record.load(fromByteOffset: 32, as: UInt32.self)
                DemoTable.writeRecord(index, version: version &+ 1, into: record)
                result.updates += 1
            } else {
                result.balanceSum &+= record.load(fromByteOffset: 24, as: Int64.self)
                result.lookups += 1
            }
        }
        result.seconds = MonotonicClock.seconds() - t0
        let r1 = ResourceUsage.now()
        result.cpuSeconds = r1.cpuSeconds - r0.cpuSeconds
        result.majorFaults = r1.majorFaults - r0.majorFaults
        return result
    }

    /// The model: how many times each record was updated, as sorted record indices (one per
    /// update), rebuilt by replaying the operation stream.
    public func updateModel() -> [UInt32] {
        let start = stream()
        let law = start.0
        var generator = start.1
        var updated: [UInt32] = []
        updated.reserveCapacity(operations * updatePercent / 100 + operations / 50 + 16)
        for _ in 0..<operations {
            let x = generator.next()
            let page = law.page(for: x)
            guard !DemoTable.isFreed(page: page), (x >> 40) % 100 < UInt64(updatePercent) else { continue }
            updated.append(UInt32(page * DemoTable.recordsPerPage + Int((x >> 20) % UInt64(DemoTable.recordsPerPage))))
        }
        updated.sort()
        return updated
    }

    /// ``verify(_:progress:)`` of the table in memory at `base` (the memory it was built in).
    public func verify(memory base: UnsafeRawPointer, progress: (Int) -> Void) -> (records: Int, mismatches: Int) {
        verify({ page, buffer in
            buffer.copyMemory(from: base + page * 4096, byteCount: 4096)
            return true
        }, progress: progress)
    }

    /// Compares every page with the model: the number of records that differ.
    public func verify(_ page: (Int, UnsafeMutableRawPointer) -> Bool, progress: (Int) -> Void) -> (records: Int, mismatches: Int) {
        let updated = updateModel()
        let expected = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 4096)
        let actual = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 4096)
        defer { expected.deallocate(); actual.deallocate() }
        var u = 0
        var mismatches = 0
        var records = 0
        for p in 0..<table.pageCount {
            let first = p * DemoTable.recordsPerPage
            let end = first + DemoTable.recordsPerPage
            var versions = [UInt32](repeating: 0, count: 0)
            while u < updated.count, Int(updated[u]) < end {
                if versions.isEmpty { versions = [UInt32](repeating: 0, count: DemoTable.recordsPerPage) }
                versions[Int(updated[u]) - first] += 1
                u += 1
            }
            table.writePage(p, into: expected) { versions.isEmpty ? 0 : versions[$0 - first] }
            guard page(p, actual) else {
                mismatches += DemoTable.recordsPerPage
                continue
            }
            for r in 0..<DemoTable.recordsPerPage where memcmp(expected + r * 128, actual + r * 128, 128) != 0 {
                mismatches += 1
            }
            records += DemoTable.isFreed(page: p) ? 0 : DemoTable.recordsPerPage
            if p & 0x3FFF == 0x3FFF { progress(p + 1) }
        }
        progress(table.pageCount)
        return (records, mismatches)
    }
}
