import Testing

@testable import RedisTier

@Suite("RedisTierConfiguration: settings that can work, and why others cannot")
struct RedisTierConfigurationTests {
    @Test("The defaults work: WAIT 1, 4 KiB objects, the uswap prefix")
    func defaults() throws {
        let configuration = try RedisTierConfiguration(url: "redis://127.0.0.1:7100,127.0.0.1:7101")
        #expect(configuration.problem == nil)
        #expect(configuration.seeds.count == 2)
        #expect(configuration.replicas == 1)
        #expect(configuration.maxObjectSize == 4096)
        #expect(configuration.keyPrefix == "uswap")
        #expect(configuration.readRetryMilliseconds == nil)
    }

    @Test("Each impossible setting is named", arguments: [
        ("seeds", "seed"), ("replicas", "replicas"), ("wait", "WAIT"), ("io", "I/O"), ("connect", "connect"), ("retry", "retry"),
        ("object", "object"), ("lease", "lease"), ("batch", "batch"), ("queue", "queue"), ("depth", "depth"), ("idle", "idle"),
        ("interval", "interval"),
    ])
    func problems(setting: String, word: String) {
        var c = RedisTierConfiguration(seeds: [NodeAddress(host: "h", port: 1)])
        switch setting {
        case "seeds": c.seeds = []
        case "replicas": c.replicas = -1
        case "wait": c.waitTimeoutMilliseconds = 0
        case "io": c.ioTimeoutMilliseconds = 0
        case "connect": c.connectTimeoutMilliseconds = 0
        case "retry": c.readRetryMilliseconds = -1
        case "object": c.maxObjectSize = 0
        case "lease": c.leaseTTLMilliseconds = 10
        case "batch": c.freeBatchSize = 0
        case "queue": c.freeQueueCapacity = 1; c.freeBatchSize = 2
        case "depth": c.pipelineDepth = 0
        case "idle": c.maxIdleConnectionsPerNode = 0
        default: c.maintenanceIntervalMilliseconds = 0
        }
        #expect(c.problem?.contains(word) == true, "\(String(describing: c.problem))")
    }

    @Test("A tier refuses impossible settings before it connects")
    func tierRefuses() {
        var c = RedisTierConfiguration(seeds: [NodeAddress(host: "127.0.0.1", port: 1)])
        c.replicas = -1
        #expect(throws: RedisTierError.invalidConfiguration("replicas -1 must be 0 or more")) { _ = try RedisTier(c) }
    }
}
