// RedisTierBench: the far-memory tier's figures beside redis-benchmark on the same cluster, and
// the run the gc test kills. Until `uswap bench swap --tier redis://...` exists (stage 2), this
// is how the tier is measured:
//
//   RedisTierBench latency    --seeds redis://H:P,... [--pages N] [--reads N] [--rounds N]
//                             [--object-size B] [--replicas R] [--corpus FILE] [--no-baseline]
//   RedisTierBench throughput --seeds redis://H:P,... [--pages N] [--batch N] [--rounds N]
//                             [--object-size B] [--replicas R] [--corpus FILE] [--no-baseline]
//   RedisTierBench crash      --seeds redis://H:P,... [--pages N] [--lease-ttl MS] [--label L]
//   RedisTierBench gc         --seeds redis://H:P,... [--prefix P]
//
// latency: writes N pages, and redis-benchmark -t set -d 4096 -c 1 -P 1 -r 100000 --cluster sets
//   its keys (4x the range, so nearly every key exists before it is read); then --rounds rounds
//   (default 5) of R/rounds tier reads one at a time (random pages, each read timed) followed by
//   redis-benchmark -t get with the same options on the same cluster: interleaved, so both see
//   the same machine (2 shared cores are noisy). Prints each round and the median ratio.
// throughput: --rounds rounds of N/rounds pages written in batches of --batch (each batch one
//   pipeline per master plus WAIT), pages/s, then freed; each followed by redis-benchmark -t set
//   -d 4096 -c 1 -P 32 --cluster. Prints each round and the median ratio.
// crash: writes N pages, prints `namespace=... pages=N`, and SIGKILLs itself (a run that died:
//   its lease expires, gc must remove its keys).
// Objects are random bytes of --object-size (4096, like -d 4096), or with --corpus the LZ4
// compression of the corpus's pages (real compressed sizes).
import Foundation
import PageCodecs
import PageStore
import RedisTier
import SystemSupport

struct Options {
    var mode = ""
    var seeds = ""
    var pages = 20_000
    var reads = 20_000
    var batch = 32
    var objectSize = 4096
    var replicas = 1
    var corpus: String?
    var baseline = true
    var leaseTTL = 2_000
    var label = "bench"
    var prefix = "uswap"
    var rounds = 5

    init(_ arguments: [String]) {
        var rest = arguments.dropFirst()
        guard let mode = rest.popFirst() else { Self.usage() }
        self.mode = mode
        while let flag = rest.popFirst() {
            func value() -> String {
                guard let v = rest.popFirst() else { Self.fail("\(flag) needs a value") }
                return v
            }
            func number() -> Int {
                let text = value()
                guard let n = Int(text), n >= 0 else { Self.fail("\(flag) takes a whole number, not '\(text)'") }
                return n
            }
            switch flag {
            case "--seeds": seeds = value()
            case "--pages": pages = number()
            case "--reads": reads = number()
            case "--batch": batch = max(1, number())
            case "--object-size": objectSize = number()
            case "--replicas": replicas = number()
            case "--corpus": corpus = value()
            case "--no-baseline": baseline = false
            case "--lease-ttl": leaseTTL = number()
            case "--label": label = value()
            case "--prefix": prefix = value()
            case "--rounds": rounds = max(1, number())
            default: Self.fail("unknown option \(flag)")
            }
        }
        if seeds.isEmpty { Self.fail("--seeds redis://HOST:PORT[,...] is required") }
    }

    static func usage() -> Never {
        fail("usage: RedisTierBench latency|throughput|crash|gc --seeds redis://HOST:PORT[,...] [options]")
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("RedisTierBench: \(message)\n".utf8))
        exit(2)
    }
}

/// The objects the bench writes: random incompressible bytes, or compressed corpus pages.
struct Objects {
    var bytes: [UInt8] = []
    var offsets: [Int] = []
    var lengths: [Int] = []

    init(count: Int, options: Options) {
        if let path = options.corpus {
            guard let data = FileManager.default.contents(atPath: path), data.count >= 4096 else {
                Options.fail("cannot read the corpus \(path) (at least one 4 KiB page)")
            }
            let codec = LZ4Codec()
            let pageCount = data.count / 4096
            var out = [UInt8](repeating: 0, count: codec.maxCompressedSize(for: 4096))
            data.withUnsafeBytes { corpus in
                for i in 0..<count {
                    let page = UnsafeRawBufferPointer(rebasing: corpus[(i % pageCount) * 4096..<((i % pageCount) + 1) * 4096])
                    let n = out.withUnsafeMutableBytes { codec.compress(page, into: $0) }
                    offsets.append(bytes.count)
                    if let n, n < 4096 {
                        bytes += out[0..<n]
                        lengths.append(n)
                    } else {
                        bytes += page
                        lengths.append(4096)
                    }
                }
            }
        } else {
            var generator = SystemRandomNumberGenerator()
            let size = min(options.objectSize, 4096)
            // 64 distinct objects are enough: every key gets its own copy in the cluster anyway.
            for _ in 0..<64 {
                offsets.append(bytes.count)
                for _ in 0..<size { bytes.append(UInt8.random(in: 0...255, using: &generator)) }
                lengths.append(size)
            }
        }
    }

    func withObject<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let k = i % offsets.count
        return try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[offsets[k]..<(offsets[k] + lengths[k])])) }
    }

    var averageSize: Double { Double(lengths.reduce(0, +)) / Double(lengths.count) }
}

func makeTier(_ options: Options, label: String? = nil, leaseTTL: Int? = nil) -> RedisTier {
    do {
        var configuration = try RedisTierConfiguration(url: options.seeds)
        configuration.replicas = options.replicas
        configuration.label = label ?? options.label
        configuration.keyPrefix = options.prefix
        configuration.pipelineDepth = max(configuration.pipelineDepth, options.batch)
        if let leaseTTL { configuration.leaseTTLMilliseconds = leaseTTL }
        return try RedisTier(configuration)
    } catch {
        Options.fail("\(error)")
    }
}

/// Writes `count` objects in batches of `batchSize`, writing refused ones again; returns the
/// handles in object order.
func writeAll(_ tier: RedisTier, _ objects: Objects, count: Int, batchSize: Int) -> [PageTierHandle] {
    var handles = [PageTierHandle?](repeating: nil, count: count)
    var batch = PageTierBatch(capacity: batchSize, maxObjectSize: tier.maxObjectSize)
    var members: [Int] = []
    var retry: [Int] = []
    var next = 0
    var refusals = 0
    while next < count || !retry.isEmpty {
        batch.removeAll()
        members.removeAll(keepingCapacity: true)
        while !batch.isFull, let index = retry.popLast() ?? (next < count ? next : nil) {
            if index == next { next += 1 }
            do { _ = try objects.withObject(index) { try batch.append($0) } } catch { Options.fail("append: \(error)") }
            members.append(index)
        }
        do { try tier.write(&batch) } catch { Options.fail("write: \(error)") }
        for (i, index) in members.enumerated() {
            if let handle = batch.handle(at: i) { handles[index] = handle } else { retry.append(index) }
        }
        if let failure = batch.failure {
            refusals += 1
            if refusals > 1000 { Options.fail("writes keep being refused: \(failure)") }
            usleep(10_000)
        }
    }
    return handles.map { $0! }
}

struct Percentiles {
    var p50: Double
    var p99: Double
    var mean: Double

    init(_ samples: [Int]) {
        let sorted = samples.sorted()
        p50 = Double(sorted[sorted.count / 2]) / 1000
        p99 = Double(sorted[min(sorted.count - 1, sorted.count * 99 / 100)]) / 1000
        mean = Double(samples.reduce(0, +)) / Double(samples.count) / 1000
    }
}

/// Runs redis-benchmark against the first seed in cluster mode; returns its CSV rows by test.
func redisBenchmark(_ options: Options, _ arguments: [String]) -> [String: [String: Double]] {
    guard let seeds = try? NodeAddress.seeds(from: options.seeds), let seed = seeds.first else { return [:] }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-benchmark")
    process.arguments = ["-h", seed.host, "-p", String(seed.port), "--cluster", "--csv", "-q"] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { Options.fail("cannot run redis-benchmark: \(error) (apt-get install redis-tools)") }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    var rows: [String: [String: Double]] = [:]
    var header: [String] = []
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
        let fields = line.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        guard fields.count >= 2 else { continue }
        if fields[0] == "test" { header = fields; continue }
        var row: [String: Double] = [:]
        for (name, value) in zip(header, fields) { row[name] = Double(value) }
        rows[fields[0]] = row
    }
    return rows
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
}

func format(_ value: Double) -> String { String(format: "%.1f", value) }

let options = Options(CommandLine.arguments)
switch options.mode {
case "latency":
    let objects = Objects(count: options.pages, options: options)
    let tier = makeTier(options)
    let handles = writeAll(tier, objects, count: options.pages, batchSize: options.batch)
    if options.baseline {
        // redis-benchmark's keys: SETs first, 4x the key range, so nearly every key exists
        // before the GETs read it.
        _ = redisBenchmark(options, ["-t", "set", "-d", "4096", "-c", "1", "-P", "1", "-r", "100000", "-n", "400000"])
    }
    var buffer = [UInt8](repeating: 0, count: tier.maxObjectSize)
    let perRound = max(1, options.reads / options.rounds)
    var all: [Int] = []
    var ratios: [Double] = []
    var getP50s: [Double] = []
    var cpu = 0.0
    // Interleaved rounds: tier reads, then redis-benchmark's GETs, so both see the same machine.
    for round in 1...options.rounds {
        var samples = [Int](repeating: 0, count: perRound)
        let cpuBefore = ResourceUsage.now(.process).cpuSeconds
        buffer.withUnsafeMutableBytes { raw in
            for k in 0..<perRound {
                let handle = handles[Int.random(in: 0..<handles.count)]
                let start = MonotonicClock.nanoseconds()
                do { _ = try tier.read(handle, into: raw) } catch { Options.fail("read: \(error)") }
                samples[k] = MonotonicClock.nanoseconds() - start
            }
        }
        cpu += ResourceUsage.now(.process).cpuSeconds - cpuBefore
        all += samples
        let reads = Percentiles(samples)
        var line = "round \(round): tier read p50 \(format(reads.p50)) us p99 \(format(reads.p99)) us"
        if options.baseline {
            let rows = redisBenchmark(options, ["-t", "get", "-d", "4096", "-c", "1", "-P", "1", "-r", "100000", "-n", String(perRound)])
            if let get = rows["GET"], let p50 = get["p50_latency_ms"], let p99 = get["p99_latency_ms"] {
                line += "; redis-benchmark GET p50 \(format(p50 * 1000)) us p99 \(format(p99 * 1000)) us; p50 ratio \(String(format: "%.2f", reads.p50 / (p50 * 1000)))x"
                ratios.append(reads.p50 / (p50 * 1000))
                getP50s.append(p50 * 1000)
            }
        }
        print(line)
    }
    try? tier.close()
    let reads = Percentiles(all)
    print("tier read (one page, one round trip): objects \(format(objects.averageSize)) B avg, \(all.count) reads: p50 \(format(reads.p50)) us, p99 \(format(reads.p99)) us, mean \(format(reads.mean)) us, CPU \(format(cpu * 1e6 / Double(all.count))) us/read")
    if !ratios.isEmpty {
        print("redis-benchmark GET -d 4096 -c 1 -P 1 -r 100000 --cluster: median p50 \(format(median(getP50s))) us over \(ratios.count) rounds")
        print("tier read p50 / GET p50, median of rounds: \(String(format: "%.2f", median(ratios)))x (goal <= 1.5x)")
    }
case "throughput":
    let objects = Objects(count: options.pages, options: options)
    let tier = makeTier(options)
    let perRound = max(1, options.pages / options.rounds)
    var ratios: [Double] = []
    var rates: [Double] = []
    var setRates: [Double] = []
    var cpu = 0.0
    var written = 0
    var seconds = 0.0
    for round in 1...options.rounds {
        let cpuBefore = ResourceUsage.now(.process).cpuSeconds
        let start = MonotonicClock.nanoseconds()
        let handles = writeAll(tier, objects, count: perRound, batchSize: options.batch)
        let elapsed = Double(MonotonicClock.nanoseconds() - start) / 1e9
        cpu += ResourceUsage.now(.process).cpuSeconds - cpuBefore
        seconds += elapsed
        written += handles.count
        let rate = Double(handles.count) / elapsed
        rates.append(rate)
        tier.free(handles)
        tier.flushFrees()
        var line = "round \(round): tier \(Int(rate)) pages/s"
        if options.baseline {
            let rows = redisBenchmark(options, ["-t", "set", "-d", "4096", "-c", "1", "-P", "32", "-r", "100000", "-n", String(max(perRound, 20_000))])
            if let set = rows["SET"], let rps = set["rps"] {
                line += "; redis-benchmark SET -P 32 \(Int(rps)) requests/s; ratio \(String(format: "%.2f", rate / rps))x"
                ratios.append(rate / rps)
                setRates.append(rps)
            }
        }
        print(line)
    }
    let statistics = tier.statistics
    try? tier.close()
    print("tier writes: \(written) pages of \(format(objects.averageSize)) B avg in batches of \(options.batch), WAIT \(options.replicas): median \(Int(median(rates))) pages/s, \(format(Double(statistics.bytesWritten) / seconds / 1e6)) MB/s, CPU \(format(cpu * 1e6 / Double(written))) us/page, refused \(statistics.tier.refusedWrites)")
    if !ratios.isEmpty {
        print("redis-benchmark SET -d 4096 -c 1 -P 32 --cluster: median \(Int(median(setRates))) requests/s over \(ratios.count) rounds")
        print("tier pages/s / SET requests/s, median of rounds: \(String(format: "%.2f", median(ratios)))x (goal >= 1.0x)")
    }
case "crash":
    let objects = Objects(count: options.pages, options: options)
    let tier = makeTier(options, leaseTTL: options.leaseTTL)
    let handles = writeAll(tier, objects, count: options.pages, batchSize: options.batch)
    print("namespace=\(tier.namespace) pages=\(handles.count)")
    fflush(nil)
    kill(getpid(), SIGKILL)
case "gc":
    do {
        var configuration = try RedisTierConfiguration(url: options.seeds)
        configuration.keyPrefix = options.prefix
        let report = try RedisTier.collectGarbage(configuration)
        print(report.summary)
    } catch {
        Options.fail("\(error)")
    }
default:
    Options.usage()
}
