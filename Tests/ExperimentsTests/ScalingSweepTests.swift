import Collectives
import Reports
import Testing

@testable import Experiments

/// The sweep's plan and command lines, without running anything.
@Suite struct ScalingSweepTests {
    @Test func configurationsParseOrSayWhy() throws {
        let c = try ScalingSweep.Configuration(parsing: "hybrid-c:bf16+zstd")
        #expect(
            c.scheme == .c && c.codec == Codec(values: .bf16, zstdLevel: 1) && c.description == "hybrid-c:bf16+zstd")
        #expect { try ScalingSweep.Configuration(parsing: "ring:none") } throws: { "\($0)".contains("mode 'ring'") }
        #expect { try ScalingSweep.Configuration(parsing: "data") } throws: { "\($0)".contains("MODE:CODEC") }
    }

    @Test func theSweepRunsOneRankOnceAndEveryConfigurationPerLink() throws {
        var sweep = ScalingSweep()
        sweep.ranks = [1, 2, 4]
        sweep.configurations = [try .init(parsing: "data:none"), try .init(parsing: "hybrid-b:bf16")]
        sweep.links = [try Link(parsing: "local"), try Link(parsing: "1gbit")]
        let keys = sweep.planned.map(sweep.key)
        #expect(keys.count == 1 + 2 * 2 + 2 * 2)
        #expect(keys.first == "owt|data|none|1|32|1|local")
        #expect(keys.contains("owt|hybrid-b|bf16|4|32|1|1gbit"))
        let tools = ScalingSweep.Tools(executable: "/x/alexnet-dist", vcluster: "/x/vcluster")
        let network = sweep.planned.last!
        #expect(
            sweep.command(network, tools: tools, json: "j", trace: "t").prefix(4) == [
                "/x/vcluster", "mpirun", "-n", "4",
            ])
        #expect(sweep.command(sweep.planned[0], tools: tools, json: "j", trace: "t").contains("--simulate"))
    }
}
