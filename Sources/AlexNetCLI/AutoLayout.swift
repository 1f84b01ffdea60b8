import Benchmarks
import Collectives
import Compute
import Foundation
import Reports
import Training

/// `train --parallel auto`: before training, the ranks measure what the planner needs (Note [choosing a
/// layout]) — every rank times two steps of its own batch alone, the ranks time their allreduce inside a node
/// and between nodes (`bench links`, smaller) — then rank 0 ranks the layouts with the user's codec and FC
/// update and every rank adopts its choice of G and scheme. A few seconds; the training itself is that of
/// the chosen layout given by hand, bit for bit (the measurements touch none of its state).
enum AutoLayout {
    /// Allreduce sizes of the link measurement (floats): 16 KB to 4 MB, enough for α and β.
    static let linkSizes = [1 << 12, 1 << 16, 1 << 20]

    /// `configuration` with the planner's G, scheme and `layoutChoice`; a collective over `world`.
    static func choose(
        _ configuration: ParallelTrainingConfiguration, world: Communicator, progress: (String) -> Void
    ) throws -> ParallelTrainingConfiguration {
        var c = configuration
        let model = c.training.model, batch = c.training.batchSize, k = world.size
        guard k > 1 else { return c }
        let started = Date()
        // Compute: each rank alone on its cores; the median over the ranks.
        let measured = try benchmarkCompute(model: model, groups: 1, batch: batch, warmup: 1, steps: 2)
        let mine = CostModel.Compute(benchmark: measured, model: model)
        let phases = try world.allGatherDoubles(
            [mine.convForward, mine.convBackward, mine.fullyConnected, mine.update], collective: "auto layout: compute")
        func middle(_ i: Int) -> Double { phases.map { $0[i] }.sorted()[phases.count / 2] }
        let compute = CostModel.Compute(
            convForward: middle(0), convBackward: middle(1), fullyConnected: middle(2), update: middle(3),
            batch: batch, threads: mine.threads)
        let links = try benchmarkLinks(world: world, sizes: linkSizes, repetitions: 3)

        // Rank 0 decides; every rank adopts its G and scheme.
        var decision: [UInt8] = []
        var choice: ParallelTrainingConfiguration.LayoutChoice?
        var lines: [String] = []
        if world.rank == 0 {
            let network = try links.network(ranks: k)
            let planner = LayoutPlanner(
                costModel: CostModel(model: model, compute: compute, cores: 1, codecs: [:]), network: network,
                ranks: k)
            // Layouts as this run would resolve them: its FC update where one group is fed in rounds.
            let asked = c.fullyConnectedUpdate
            let candidates = planner.candidates().filter {
                let inRounds = $0.groupSize > 1 && $0.groupSize == k && $0.scheme != .a
                return $0.fullyConnectedUpdate == (inRounds ? asked : .step)
            }
            let best = candidates[0]
            let reason = planner.explain(best, among: candidates)
            choice = .init(
                predictedStepSeconds: best.stepSeconds, predictedBytesPerRank: best.bytesSentPerRank, reason: reason)
            decision =
                [UInt8(truncatingIfNeeded: best.groupSize), UInt8(truncatingIfNeeded: best.groupSize >> 8)]
                + Array((best.scheme ?? c.scheme).rawValue.utf8)
            let inside =
                network.ranksPerNode > 1
                ? String(
                    format: "inside a node α %.1f µs β %.2f GB/s", network.intraNode.alpha * 1e6,
                    network.intraNode.beta / 1e9) : "one rank per node"
            let between =
                k > network.ranksPerNode
                ? String(
                    format: "between nodes α %.1f µs β %.2f GB/s", network.interNode.alpha * 1e6,
                    network.interNode.beta / 1e9) : "one node"
            lines = [
                String(
                    format:
                        "--parallel auto: measured in %.1f s: compute %.1f ms per step per rank (median of %d); links: %@, %@",
                    Date().timeIntervalSince(started),
                    (compute.convForward + compute.convBackward + compute.fullyConnected + compute.update) * 1e3, k,
                    inside, between),
                "--parallel auto chose \(reason)",
            ]
            if !c.codec.isIdentity {
                lines.append("--parallel auto: layouts compared without the cost of codec \(c.codec) (not measured)")
            }
        }
        let agreed = try world.allGatherBytes(decision, collective: "auto layout: decision")[0]
        let groupSize = Int(agreed[0]) | Int(agreed[1]) << 8
        guard let scheme = ParallelPlan.Scheme(rawValue: String(decoding: agreed.dropFirst(2), as: UTF8.self)) else {
            throw TrainingError("--parallel auto: rank 0's decision could not be read")
        }
        c.parallelism = groupSize == 1 ? .data : .hybrid
        c.fullyConnectedGroupSize = groupSize == 1 ? nil : groupSize
        c.scheme = scheme
        // Every rank records the same choice: the predicted figures travel with rank 0's decision.
        let figures = try world.allGatherDoubles(
            [choice?.predictedStepSeconds ?? 0, choice?.predictedBytesPerRank ?? 0], collective: "auto layout: figures"
        )[0]
        let reason = try world.allGatherBytes(Array((choice?.reason ?? "").utf8), collective: "auto layout: reason")[0]
        c.layoutChoice = .init(
            predictedStepSeconds: figures[0], predictedBytesPerRank: figures[1],
            reason: String(decoding: reason, as: UTF8.self))
        for line in lines { progress(line) }
        return c
    }
}
