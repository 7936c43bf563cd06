import PageStore

/// What a model expects of a `FaultInjectingBackingFile`: the same rules, matched the same way,
/// so the model knows which call of the store's will fail before the store makes it.
///
/// Only the triggers the fuzz targets use are mirrored (`.always` and `.block`), with the file's
/// order (the first matching rule with uses left applies and uses one up). ``inject(_:on:when:times:into:)``
/// adds a rule to both the mirror and the file.
public struct FaultMirror {
    struct Rule {
        var operation: FaultInjectingBackingFile.Operation
        var block: Int?
        var fault: FaultInjectingBackingFile.Fault
        var remaining: Int?
    }

    private var rules: [Rule] = []
    /// Faults the mirror expects the file to have injected, per operation (read, write, punch, sync).
    public private(set) var injected = [0, 0, 0, 0]

    /// No rules.
    public init() {}

    private static func index(_ operation: FaultInjectingBackingFile.Operation) -> Int {
        switch operation {
        case .read: 0
        case .write: 1
        case .punch: 2
        case .sync: 3
        }
    }

    /// Adds a rule (`block` `nil` means every call) to the mirror and to `file`.
    public mutating func inject(
        _ fault: FaultInjectingBackingFile.Fault, on operation: FaultInjectingBackingFile.Operation, block: Int?, times: Int?,
        into file: FaultInjectingBackingFile
    ) {
        rules.append(Rule(operation: operation, block: block, fault: fault, remaining: times))
        file.inject(fault, on: operation, when: block.map { .block($0) } ?? .always, times: times)
    }

    /// Removes every rule from the mirror and from `file`.
    public mutating func clear(_ file: FaultInjectingBackingFile) {
        rules.removeAll()
        file.clearFaults()
    }

    /// The fault the file will give the next `operation` call on `block`, used up as the file
    /// uses it.
    public mutating func next(_ operation: FaultInjectingBackingFile.Operation, block: Int) -> FaultInjectingBackingFile.Fault? {
        for i in rules.indices where rules[i].operation == operation {
            if let remaining = rules[i].remaining, remaining <= 0 { continue }
            if let b = rules[i].block, b != block { continue }
            if let remaining = rules[i].remaining { rules[i].remaining = remaining - 1 }
            injected[Self.index(operation)] += 1
            return rules[i].fault
        }
        return nil
    }

    /// Faults the mirror expects the file to have injected into `operation`.
    public func injected(_ operation: FaultInjectingBackingFile.Operation) -> Int { injected[Self.index(operation)] }

    /// Whether the file's injected-fault counters match the mirror's.
    public func matches(_ file: FaultInjectingBackingFile) -> Bool {
        FaultInjectingBackingFile.Operation.allCases.allSatisfy { file.injectedFaults($0) == injected[Self.index($0)] }
    }
}
