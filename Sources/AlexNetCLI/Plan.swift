import ArgumentParser
import Benchmarks
import Collectives
import Compute
import Foundation
import Reports
import Training

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rank every layout (G, scheme, codec, FC update) for a cluster by predicted time per step.",
        discussion: """
            The cost model (docs/scaling/report.md) predicts each layout's step on K ranks, P per node: the \
            FC groups' exchanges, the conv gradients' allreduce over K and the FC shards' over the K/G \
            groups, each on the link its ranks' placement gives it (shared memory inside a node, the network \
            between nodes, whose link the node's P ranks share), with what the backward pass hides. The \
            compute per rank is measured here with a short `bench compute` (or read from its --json, or \
            scaled with --compute-speedup); links are given as rates and latencies or read from \
            `bench links --json`; codecs other than none need their cost from a calibration file.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var computeOptions: ComputeOptions
    @Option(help: "Images per rank per step.") var batchSize = 128
    @Option(help: "K: ranks in all.") var ranks: Int
    @Option(help: "P: ranks per node (consecutive ranks share a node). Default: as --links measured, else 1.")
    var ranksPerNode: Int?
    @Option(help: "The network between nodes: a rate such as 10gbit or 25gbit.") var network = "10gbit"
    @Option(help: "The network's latency per message, microseconds.") var networkLatency = 20.0
    @Option(help: "The link between ranks of one node (shared memory), as a rate.") var nodeLink = "80gbit"
    @Option(help: "That link's latency per message, microseconds.") var nodeLatency = 2.0
    @Option(help: "Read the links from `bench links --json` instead of the four options above.") var links: String?
    @Option(help: "Read the compute per rank from `bench compute --json` instead of measuring it here.")
    var compute: String?
    @Option(help: "Divide the compute per rank by this (e.g. 20 for GPU-class ranks).") var computeSpeedup = 1.0
    @Option(
        help: "Codecs to consider besides none (\(Codec.grammar)); lossy ones change the numbers the run computes.",
        transform: { try CodecList(parsing: $0) })
    var codecs = CodecList([])
    @Option(help: "A calibration file (a scaling report's calibration.json) with the codecs' measured costs.")
    var calibration: String?
    @Option(help: "Candidates to print (the JSON has all).") var top = 12
    @Option(help: "Write every candidate and the recommendation as JSON to this file (atomically).")
    var json: String?

    func validate() throws {
        guard ranks >= 1 else { throw ValidationError("--ranks must be at least 1, got \(ranks)") }
        if let ranksPerNode, ranksPerNode < 1 || ranks % ranksPerNode != 0 {
            throw ValidationError(
                "--ranks-per-node must be at least 1 and divide --ranks \(ranks), got \(ranksPerNode)")
        }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        guard computeSpeedup > 0, computeSpeedup.isFinite else {
            throw ValidationError("--compute-speedup must be positive, got \(computeSpeedup)")
        }
        guard networkLatency >= 0, nodeLatency >= 0 else {
            throw ValidationError("--network-latency and --node-latency must not be negative")
        }
        for (flag, rate) in [("--network", network), ("--node-link", nodeLink)] {
            do {
                guard try Link(parsing: rate).bitsPerSecond != nil else {
                    throw ValidationError("\(flag) must be a rate such as 10gbit, got '\(rate)'")
                }
            } catch let error as ReportError { throw ValidationError("\(flag): \(error)") }
        }
        guard top >= 1 else { throw ValidationError("--top must be at least 1, got \(top)") }
        if let json { try AtomicFile.checkWritable(json) }
    }

    func run() throws {
        let model = modelOptions.model
        let perRank = try measuredCompute(model)
        var speeds: [Codec: CostModel.CodecCost] = [:]
        if let calibration {
            guard FileManager.default.fileExists(atPath: calibration) else {
                throw ValidationError("--calibration \(calibration): no such file")
            }
            speeds = try Calibration.load(calibration).codecs
        }
        let costModel = CostModel(
            model: model, compute: perRank, cores: ProcessInfo.processInfo.activeProcessorCount, codecs: speeds)
        let planner = LayoutPlanner(
            costModel: costModel, network: try cluster(), ranks: ranks, codecs: codecs.codecs)
        let report = planner.report()
        print(
            String(
                format:
                    "%@, %d per rank, %d ranks (%d per node); compute per rank %.1f ms (conv %.1f + %.1f, FC %.1f, update %.1f)",
                model.name, batchSize, ranks, planner.network.ranksPerNode,
                (perRank.convForward + perRank.convBackward + perRank.fullyConnected + perRank.update) * 1e3,
                perRank.convForward * 1e3, perRank.convBackward * 1e3, perRank.fullyConnected * 1e3,
                perRank.update * 1e3))
        let n = planner.network
        print(
            String(
                format: "links: between nodes α %.1f µs, β %.3f GB/s; inside a node α %.1f µs, β %.3f GB/s",
                n.interNode.alpha * 1e6, n.interNode.beta / 1e9, n.intraNode.alpha * 1e6, n.intraNode.beta / 1e9))
        if !report.unpricedCodecs.isEmpty {
            print(
                "left out (no measured cost; give --calibration): \(report.unpricedCodecs.joined(separator: ", "))")
        }
        print(
            "  #  layout                                                 step ms  compute  exposed  MB/rank  images/s")
        for (i, row) in report.candidates.prefix(top).enumerated() {
            let layout =
                row.scheme.map {
                    "G = \(row.groupSize), scheme \($0.rawValue), codec \(row.codec), FC per \(row.fcUpdate)"
                } ?? "data parallelism (G = 1), codec \(row.codec)"
            print(
                String(
                    format: "%3d  %@ %8.1f %8.1f %8.1f %8.1f %9.1f", i + 1,
                    layout.padding(toLength: 54, withPad: " ", startingAt: 0), row.stepSeconds * 1e3,
                    row.computeSeconds * 1e3, row.exposedCommunicationSeconds * 1e3, row.bytesSentPerRank / 1e6,
                    row.imagesPerSecond))
        }
        if report.candidates.count > top { print("  … \(report.candidates.count - top) more (--top, --json)") }
        print("recommended: \(report.reason)")
        if let json { try writeJSON(report, to: json) }
    }

    /// The compute per rank: `bench compute`'s figures, read or measured here (1 warm-up and 3 timed steps),
    /// divided by --compute-speedup.
    private func measuredCompute(_ model: AlexNet) throws -> CostModel.Compute {
        let result: ComputeBenchmarkResult
        if let compute {
            result = try readJSON(ComputeBenchmarkResult.self, from: compute)
            guard result.variant == model.name, result.batch == batchSize else {
                throw ValidationError(
                    "\(compute): bench compute of \(result.variant) at batch \(result.batch), not \(model.name) at --batch-size \(batchSize)"
                )
            }
        } else {
            computeOptions.apply()
            printError(
                "measuring the compute per rank: bench compute --variant \(model.name) --batch-size \(batchSize)")
            result = try benchmarkCompute(
                model: model, groups: modelOptions.groups, batch: batchSize, warmup: 1, steps: 3)
        }
        var c = CostModel.Compute(benchmark: result, model: model)
        c.convForward /= computeSpeedup
        c.convBackward /= computeSpeedup
        c.fullyConnected /= computeSpeedup
        c.update /= computeSpeedup
        return c
    }

    /// The cluster's two-level links, from --links or the rate and latency options.
    private func cluster() throws -> CostModel.Network {
        if let links {
            do {
                return try readJSON(LinkBenchmarkResult.self, from: links).network(
                    ranksPerNode: ranksPerNode, ranks: ranks)
            } catch let error as ReportError { throw ValidationError("\(links): \(error)") }
        }
        func cost(_ rate: String, _ microseconds: Double) throws -> CostModel.LinkCost {
            CostModel.LinkCost(alpha: microseconds * 1e-6, beta: try Link(parsing: rate).bitsPerSecond! / 8)
        }
        return CostModel.Network(
            ranksPerNode: ranksPerNode ?? 1, intraNode: try cost(nodeLink, nodeLatency),
            interNode: try cost(network, networkLatency))
    }
}

/// Reads `path` as snake-case JSON of `type`, or says which file is not what was expected.
func readJSON<T: Decodable>(_ type: T.Type, from path: String) throws -> T {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ValidationError("\(path): cannot be read")
    }
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    do {
        return try decoder.decode(T.self, from: data)
    } catch {
        throw ValidationError("\(path): not the JSON of \(T.self) (\(error))")
    }
}
