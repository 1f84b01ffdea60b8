import Collectives
import Compute
import Testing
import Training

@testable import Reports

@Suite struct LayoutPlannerTests {
    /// GPU-class compute per rank (owt, 128 per rank), as the report's extrapolation uses.
    let fast = CostModel.Compute(
        convForward: 0.05, convBackward: 0.1, fullyConnected: 0.03, update: 0.02, batch: 128, threads: 1)
    let sharedMemory = CostModel.LinkCost(alpha: 2e-6, beta: 20e9)
    let tenGigabit = CostModel.LinkCost(alpha: 2e-5, beta: 1.25e9 * 0.9)

    func costModel(_ compute: CostModel.Compute) -> CostModel {
        CostModel(
            model: AlexNet.owt, compute: compute, cores: 2,
            codecs: [
                Codec(values: .bf16, zstdLevel: nil): .init(encodeBytesPerSecond: 2e9, decodeBytesPerSecond: 8e9),
                .zstd: .init(encodeBytesPerSecond: 1e9, decodeBytesPerSecond: 2e9, sentFraction: 0.9),
            ])
    }

    /// Note [two-level links]: a collective inside a node runs on shared memory; one that crosses nodes pays
    /// the network's latency, its bytes limited by the node's link shared by its P ranks (for the part of a
    /// rank's sends that leave the node) or by shared memory, whichever is slower.
    @Test func collectivesTakeTheLinkTheirPlacementGives() {
        let network = CostModel.Network(ranksPerNode: 8, intraNode: sharedMemory, interNode: tenGigabit)
        // A group of 4 (or 8) consecutive ranks shares a node.
        #expect(network.link(members: 4, stride: 1) == sharedMemory)
        #expect(network.link(members: 8, stride: 1) == sharedMemory)
        // All 64 ranks: 56 of a rank's 63 peers are off the node, 8 ranks share its link.
        let world = network.link(members: 64, stride: 1)
        #expect(world.alpha == tenGigabit.alpha)
        #expect(abs(world.beta - tenGigabit.beta / (8 * 56.0 / 63)) / world.beta < 1e-12)
        // The 16 holders of one FC shard (stride 4): 2 on each node.
        let shard = network.link(members: 16, stride: 4)
        #expect(abs(shard.beta - tenGigabit.beta / (8 * 14.0 / 15)) / shard.beta < 1e-12)
        // One rank per node: the network link as it is; `flat` is that for every collective.
        let flat = CostModel.Network.flat(tenGigabit)
        #expect(flat.link(members: 64, stride: 1) == tenGigabit && flat.link(members: 4, stride: 1) == tenGigabit)
    }

    /// Every layout the trainer accepts is a candidate once: G dividing K, schemes for G > 1 (c where
    /// B ≥ G), per-sub-batch FC updates only for one group fed in rounds; codecs that cannot be priced are
    /// named, not guessed.
    @Test func everyAcceptedLayoutIsRankedOnce() {
        var compute = fast
        compute.batch = 32
        let planner = LayoutPlanner(
            costModel: costModel(compute), network: .flat(tenGigabit), ranks: 8,
            codecs: [Codec(values: .bf16, zstdLevel: nil), .zstd, Codec(values: .fp16, zstdLevel: 1)])
        #expect(planner.pricedCodecs.priced.map(\.description) == ["none", "bf16", "zstd"])
        #expect(planner.pricedCodecs.unpriced.map(\.description) == ["fp16+zstd"])
        let all = planner.candidates()
        // Per codec: G = 1 once; G = 2, 4: a, b, c; G = 8: a, then b and c each per step and per sub-batch.
        #expect(all.count == 3 * (1 + 3 + 3 + 5))
        #expect(zip(all, all.dropFirst()).allSatisfy { $0.stepSeconds <= $1.stepSeconds })
        #expect(all.filter { $0.fullyConnectedUpdate == .subBatch }.allSatisfy { $0.groupSize == 8 && $0.scheme != .a })
        #expect(all.allSatisfy { $0.groupSize == 1 ? $0.scheme == nil : $0.scheme != nil })
        // One rank: compute alone, one candidate.
        let one = LayoutPlanner(costModel: costModel(compute), network: .flat(tenGigabit), ranks: 1)
        #expect(one.candidates().count == 1 && one.recommend().choice.groupSize == 1)
    }

    /// 64 ranks, 8 per node, 10 Gbit/s between nodes: FC groups inside a node beat data parallelism (whose
    /// 490 MB per rank per step cross the network) and the hybrid over all 64 (whose exchanges grow with K);
    /// on one node with shared memory only, nothing is slow enough to beat data parallelism by much.
    @Test func groupsInsideANodeWinOnAClusterOfNodes() {
        let cluster = LayoutPlanner(
            costModel: costModel(fast),
            network: CostModel.Network(ranksPerNode: 8, intraNode: sharedMemory, interNode: tenGigabit), ranks: 64)
        let advice = cluster.recommend()
        #expect(advice.choice.groupSize > 1 && advice.choice.groupSize <= 8)
        #expect(advice.reason.contains("inside a node"))
        #expect(advice.reason.contains("data parallelism") && advice.reason.contains("the hybrid over all 64 ranks"))
        let all = cluster.candidates()
        let data = all.first { $0.groupSize == 1 && $0.codec == .none }!
        let hybrid = all.first { $0.groupSize == 64 && $0.codec == .none }!
        #expect(advice.choice.stepSeconds < data.stepSeconds && advice.choice.stepSeconds < hybrid.stepSeconds)
        #expect(advice.choice.bytesSentPerRank < data.bytesSentPerRank)
        // The same ranks on a network 100 times faster: groups spanning nodes cost little; the winner's step is
        // within a few percent of compute.
        let fastNetwork = LayoutPlanner(
            costModel: costModel(fast),
            network: CostModel.Network(
                ranksPerNode: 8, intraNode: sharedMemory,
                interNode: CostModel.LinkCost(alpha: 2e-6, beta: tenGigabit.beta * 100)), ranks: 64)
        let quick = fastNetwork.recommend().choice
        #expect(quick.prediction.exposedCommunication < 0.05 * quick.stepSeconds)
    }
}
