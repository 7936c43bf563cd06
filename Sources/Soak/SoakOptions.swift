/// How a soak runs: for how long, from which seed, with how many worker threads per round,
/// where its backing files go, and what counts as a leak.
public struct SoakOptions: Sendable {
    /// Seconds to run (rounds start until this much time has passed).
    public var duration: Double
    /// The seed every round's plan is drawn from.
    public var seed: UInt64
    /// Worker threads per round.
    public var threads: Int
    /// How long one round's workers run, in milliseconds (each round draws from this range).
    public var roundMilliseconds: ClosedRange<Int> = 1_000...3_000
    /// The directory of the rounds' backing files (made, used and removed by each round).
    public var directory = "/var/tmp"
    /// Stop at the first mismatch (the planted-bug tests).
    public var stopOnFirstMismatch = false
    /// Compare the process's descriptors, threads, mappings and RSS after every round with
    /// the first round's. Off where other work shares the process (a test runner).
    public var checkProcessFootprint = true
    /// RSS may exceed the baseline by this many bytes after a round: the C library keeps freed
    /// heap in its arenas (one per thread, up to 8 per core) instead of returning it at once.
    public var residentSlackBytes = 48 << 20
    /// Mappings may exceed the baseline by this many: each malloc arena is a mapping (and a
    /// guard) that stays once made, and rounds start different numbers of threads.
    public var mappingSlack = 64
    /// Run only this round (a replay of one round of the seed), then stop.
    public var onlyRound: Int? = nil
    /// The first round's number (a worker restarted after a crash goes on from there).
    public var firstRound = 0
    /// The program and leading arguments that run one SIGBUS round in a child process (the
    /// engine appends `--seed S --round N`); nil: no SIGBUS rounds.
    public var sigbusChild: SoakChildCommand? = nil
    /// One round in this many is a SIGBUS round (when ``sigbusChild`` is set).
    public var sigbusEvery = 5

    /// `duration` seconds from `seed` with `threads` workers per round.
    public init(duration: Double, seed: UInt64, threads: Int) {
        self.duration = duration
        self.seed = seed
        self.threads = threads
    }

    /// Why these options cannot run, or nil.
    public var problem: String? {
        if !(duration >= 0) { return "duration \(duration) s must be 0 or more" }
        if !(1...16).contains(threads) { return "\(threads) threads: give 1...16" }
        if roundMilliseconds.lowerBound < 50 { return "rounds of \(roundMilliseconds.lowerBound) ms are too short: give at least 50" }
        if sigbusEvery < 1 { return "one SIGBUS round in \(sigbusEvery): give at least 1" }
        return nil
    }
}

/// A program and its leading arguments, run in a child process.
public struct SoakChildCommand: Sendable, Equatable {
    /// The executable's path.
    public var executable: String
    /// Arguments before the ones the engine adds.
    public var arguments: [String]

    /// `executable` with `arguments`.
    public init(executable: String, arguments: [String]) {
        self.executable = executable
        self.arguments = arguments
    }
}
