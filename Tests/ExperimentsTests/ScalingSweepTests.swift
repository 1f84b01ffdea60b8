import Collectives
import Foundation
import Reports
import Testing
import Training

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

    /// A data point on 4 ranks on shared memory whose conv forward took `convForward` s, measured after a
    /// reference whose conv forward took `reference` s.
    static let zeroPhases = """
        "communication_exposed":0,"communication_overlapped":0,"compression":0,"conv_backward":0,\
        "fully_connected":0,"other":0,"step_seconds":0,"update":0,
        """

    static func point(convForward: Double, reference: Double) throws -> ScalingPoint {
        let line = """
            {"batch_per_rank":32,"bytes_sent_by_channel":{},"bytes_sent_per_rank":0,"codec":"none",\
            "command":["alexnet-dist"],"date":"2026-12-07T00:00:00Z","fp32_bytes_per_rank":0,\
            "gradient_compression_ratio":1,"images":"synthetic","images_per_second":1,"images_per_second_max":1,\
            "images_per_second_min":1,"link":{"bits_per_second":null,"name":"local"},"median_step_seconds":1,\
            "parallelism":"data","phases":{\(Self.zeroPhases)"conv_forward":\(convForward)},\
            "reference":{\(Self.zeroPhases)"conv_forward":\(reference)},\
            "ranks":4,"scheme":null,"step_seconds":[1],"steps":1,"threads_per_rank":1,"variant":"owt"}
            """
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(ScalingPoint.self, from: Data(line.utf8))
    }

    /// Note [drift rule]: a point whose conv forward ran more than 10% off its reference (4 ranks on 2 cores:
    /// twice the reference's is no drift) is measured again up to `retries` more times; the attempt closest to
    /// its reference is kept and the attempts counted. One within the limit is measured once.
    @Test func aDriftedPointIsMeasuredAgainAndTheClosestAttemptKept() throws {
        var sweep = ScalingSweep()
        sweep.cores = 2
        sweep.retries = 2
        func measure(_ forwards: [Double]) throws -> (point: ScalingPoint, kept: [Double], made: Int) {
            var kept: [Double] = [], made = 0
            let point = try sweep.measuredWithinDrift(
                { n in
                    made = n
                    return try Self.point(convForward: forwards[n - 1], reference: 1)
                }, keep: { kept.append($0.phases.convForward) }, log: { _ in })
            return (point, kept, made)
        }
        // +30%, −15%, +25%: all three beyond the limit; the −15% kept.
        let drifted = try measure([2.6, 1.7, 2.5])
        #expect(drifted.made == 3 && drifted.point.attempts == 3)
        #expect(drifted.point.phases.convForward == 1.7 && drifted.kept == [2.6, 1.7])
        // +30% then +5%: the second is kept and ends the point.
        let second = try measure([2.6, 2.1, 2.0])
        #expect(second.made == 2 && second.point.attempts == 2 && second.kept == [2.6, 2.1])
        // +8%: once.
        let once = try measure([2.16])
        #expect(once.made == 1 && once.point.attempts == nil && once.kept == [2.16])
        sweep.retries = 0
        #expect(try measure([2.6]).made == 1)
    }
}
