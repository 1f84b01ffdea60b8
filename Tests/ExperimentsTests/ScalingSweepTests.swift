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
        let g = try ScalingSweep.Configuration(parsing: "hybrid-b-g2:none")
        #expect(g.scheme == .b && g.groupSize == 2 && g.description == "hybrid-b-g2:none")
        #expect { try ScalingSweep.Configuration(parsing: "hybrid-b-gx:none") } throws: {
            "\($0)".contains("group size 'x'")
        }
    }

    /// Groups of G run where G divides K and G < K, with `--fc-group-size G`.
    @Test func groupedConfigurationsRunWhereGDividesK() throws {
        var sweep = ScalingSweep()
        sweep.ranks = [1, 2, 4, 8]
        sweep.configurations = [try .init(parsing: "hybrid-b-g4:none")]
        sweep.links = [try Link(parsing: "local")]
        #expect(sweep.planned.map(\.ranks) == [1, 8])
        let point = sweep.planned[1]
        #expect(sweep.key(point) == "owt|hybrid-b-g4|none|8|32|1|local")
        let arguments = sweep.benchArguments(point, json: "j", trace: "t")
        #expect(arguments.joined(separator: " ").contains("--scheme b --fc-group-size 4"))
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
        // Note [compute reference]: one process on the host, data parallelism, its own step count.
        sweep.referenceSteps = 2
        let probe = try sweep.referenceCommand(tools: tools, json: "j", trace: "t")
        #expect(probe.first == "/x/alexnet-dist" && probe.contains("--simulate"))
        #expect(probe.joined(separator: " ").contains("--steps 2 ") && probe.contains("data"))
    }

    /// Note [time dilation]: `auto` dilates network points whose ranks need more cores than the machine has
    /// (K·threads / cores), never shared memory or one rank; the key names the dilation.
    @Test func autoDilationEmulatesHostsWithTheirOwnCores() throws {
        var sweep = ScalingSweep()
        sweep.ranks = [1, 2, 8]
        sweep.cores = 2
        sweep.dilation = .auto
        sweep.configurations = [try .init(parsing: "data:none")]
        sweep.links = [try Link(parsing: "local"), try Link(parsing: "1gbit")]
        let planned = sweep.planned
        #expect(planned.map(\.dilation) == [1, 1, 1, 1, 4])
        #expect(sweep.key(planned.last!) == "owt|data|none|8|32|1|1gbit×4")
        #expect(sweep.key(planned[3]) == "owt|data|none|2|32|1|1gbit")
        #expect(try ScalingSweep.Dilation(parsing: "2.5") == .factor(2.5))
        #expect(throws: ReportError.self) { try ScalingSweep.Dilation(parsing: "0.5") }
    }
}
