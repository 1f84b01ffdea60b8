import Collectives
import Compute
import Testing

@testable import Training

@Suite struct ParallelPlanTests {
    /// paper at K = 4, 128 images per rank: the bytes each rank sends, worked out by hand from the layer
    /// widths (F = 9216 conv features, n = 512 examples per step, FC shards of 1024, 1024 and 250 rows).
    @Test func paperAtFourRanksSendsWhatTheArithmeticSays() {
        let hybrid = ParallelPlan(
            model: .paper(), ranks: 4, rank: 0, parallelism: .hybrid, scheme: .a, batchPerRank: 128)
        let conv = 62_378_344 - (9216 * 4096 + 4096) - (4096 * 4096 + 4096) - (4096 * 1000 + 1000)
        #expect(hybrid.convParameters == conv)
        #expect(
            hybrid.transfers.map(\.elements) == [
                128 * 9216 * 3,  // conv features to the 3 others
                128 * 3,  // labels to the 3 others
                512 * 1024 * 3, 512 * 1024 * 3, 512 * 250 * 3,  // fc6, fc7, fc8 outputs gathered
                512 * (4096 - 1024), 512 * (4096 - 1024),  // fc8, fc7 input gradients, other ranks' columns
                (512 - 128) * 9216,  // fc6 input gradients, other ranks' examples
                conv - conv / 4, conv / 4 * 3,  // conv gradients: reduce-scatter, all-gather
            ])
        #expect(hybrid.bytesSentPerStep == 4 * 19_374_528)
        let data = ParallelPlan(model: .paper(), ranks: 4, rank: 0, parallelism: .data, scheme: .a, batchPerRank: 128)
        #expect(data.bytesSentPerStep == 4 * 2 * (62_378_344 / 4 * 3))
        #expect(data.parametersHeld == 62_378_344)
        #expect(hybrid.parametersHeld == conv + (62_378_344 - conv) / 4 + 0)  // 4 divides every FC width
    }

    /// Widths K does not divide: shards differ by at most one row, are disjoint and cover every row, so
    /// the ranks together hold every FC parameter exactly once.
    @Test(arguments: [1, 3, 5, 7])
    func shardsPartitionEveryLayer(_ ranks: Int) {
        let plans = (0..<ranks).map {
            ParallelPlan(model: .paper(), ranks: ranks, rank: $0, parallelism: .hybrid, scheme: .b, batchPerRank: 16)
        }
        for layer in 0..<3 {
            let rows = plans.map { $0.shards[layer].rows }
            #expect(rows.first!.lowerBound == 0 && rows.last!.upperBound == plans[0].shards[layer].outputs)
            for r in 1..<ranks { #expect(rows[r].lowerBound == rows[r - 1].upperBound) }
            #expect(rows.map(\.count).max()! - rows.map(\.count).min()! <= 1)
        }
        let held = plans.reduce(0) { $0 + $1.parametersHeld }
        #expect(held == 62_378_344 + (ranks - 1) * plans[0].convParameters)
        if ranks == 1 { #expect(plans[0].transfers.isEmpty) }
    }
}

/// Note [one resolved plan]: FC layers sharded within groups of G consecutive ranks, the groups
/// data-parallel; G = K and G = 1 are today's hybrid and data plans.
@Suite struct GroupedPlanTests {
    static func plan(_ ranks: Int, _ groupSize: Int, _ rank: Int, scheme: ParallelPlan.Scheme = .b) -> ParallelPlan {
        ParallelPlan(model: .owt, ranks: ranks, groupSize: groupSize, rank: rank, scheme: scheme, batchPerRank: 32)
    }

    /// Within its group a rank sends what a rank of a G-rank hybrid run sends (features, labels, FC
    /// outputs and input gradients); its conv gradients are summed over all K ranks and its FC shard's over
    /// the K/G ranks holding the same shard.
    @Test(arguments: [(8, 1), (8, 2), (8, 4), (8, 8), (4, 2)])
    func aRankSendsItsGroupsTrafficAndTwoAllReduces(_ ranks: Int, _ groupSize: Int) {
        for rank in 0..<ranks {
            let plan = Self.plan(ranks, groupSize, rank)
            #expect(plan.group == rank / groupSize && plan.position == rank % groupSize)
            #expect(plan.groupRanks.contains(rank) && plan.groupRanks.count == groupSize)
            let withinGroup = plan.transfers.filter { $0.channel == .features || $0.channel == .classifier }
            let alone = Self.plan(groupSize, groupSize, plan.position).transfers.filter {
                $0.channel == .features || $0.channel == .classifier
            }
            #expect(withinGroup == alone)
            // Conv (G = 1: every layer) over K ranks, as data parallelism sends them.
            let replicated = plan.gradientBuckets.map(\.range.count)
            let gradients = plan.transfers.filter { $0.channel == .gradients }.map(\.elements)
            #expect(
                gradients == [
                    replicated.reduce(0) { $0 + $1 - segmentCounts($1, parts: ranks)[rank] },
                    replicated.reduce(0) { $0 + segmentCounts($1, parts: ranks)[rank] * (ranks - 1) },
                ])
            // FC shards over the K/G groups (none when G = 1, where they are replicated, or G = K).
            let groups = ranks / groupSize
            let shards = plan.shardGradientBuckets.map(\.range.count)
            let shardGradients = plan.transfers.filter { $0.channel == .shardGradients }.map(\.elements)
            if groupSize == 1 || groups == 1 {
                #expect(shards.isEmpty && shardGradients.isEmpty)
            } else {
                let held = plan.shards.reduce(0) { $0 + $1.parameters }
                #expect(shards.reduce(0, +) >= held)
                #expect(
                    shardGradients == [
                        shards.reduce(0) { $0 + $1 - segmentCounts($1, parts: groups)[plan.group] },
                        shards.reduce(0) { $0 + segmentCounts($1, parts: groups)[plan.group] * (groups - 1) },
                    ])
            }
        }
    }

    /// The ranks at one position of every group hold the same rows; one group's ranks hold every row once.
    @Test func shardsRepeatAcrossGroups() {
        let plans = (0..<8).map { Self.plan(8, 4, $0) }
        for layer in 0..<3 {
            for rank in 4..<8 { #expect(plans[rank].shards[layer] == plans[rank - 4].shards[layer]) }
            let rows = plans[0..<4].map { $0.shards[layer].rows }
            #expect(rows.map(\.count).reduce(0, +) == plans[0].shards[layer].outputs)
        }
        #expect(plans[0].parametersHeld == Self.plan(4, 4, 0).parametersHeld)
    }

    /// G = K and G = 1 are today's hybrid and data plans, transfer for transfer.
    @Test func theEndsAreTodaysPlans() {
        for rank in 0..<4 {
            let hybrid = ParallelPlan(
                model: .owt, ranks: 4, rank: rank, parallelism: .hybrid, scheme: .b, batchPerRank: 32)
            let data = ParallelPlan(model: .owt, ranks: 4, rank: rank, parallelism: .data, scheme: .b, batchPerRank: 32)
            #expect(Self.plan(4, 4, rank) == hybrid && hybrid.parallelism == .hybrid)
            #expect(Self.plan(4, 1, rank) == data && data.parallelism == .data)
        }
    }

    /// What the layout allows is decided in the plan: one rank compresses and overlaps nothing; the FC
    /// layers are updated per sub-batch only when one group feeds them in rounds.
    @Test func effectiveSettingsFollowTheLayout() {
        func resolved(_ k: Int, _ g: Int, _ scheme: ParallelPlan.Scheme) -> ParallelPlan {
            ParallelPlan(
                model: .owt, ranks: k, groupSize: g, rank: 0, scheme: scheme, batchPerRank: 32, codec: .zstd,
                fullyConnectedUpdate: .subBatch, overlap: true)
        }
        #expect(resolved(1, 1, .b).codec == .none && !resolved(1, 1, .b).overlap)
        #expect(resolved(4, 4, .b).codec == .zstd && resolved(4, 4, .b).overlap)
        #expect(resolved(4, 4, .b).fullyConnectedUpdate == .subBatch)
        #expect(resolved(4, 4, .a).fullyConnectedUpdate == .step)
        #expect(resolved(4, 2, .b).fullyConnectedUpdate == .step)
        #expect(resolved(4, 1, .b).fullyConnectedUpdate == .step)
        var configuration = ParallelTrainingConfiguration(training: TrainingConfiguration(model: .owt))
        configuration.fullyConnectedGroupSize = 3
        #expect(throws: TrainingError.self) { try configuration.validate(ranks: 4) }
        configuration.parallelism = ParallelPlan.Parallelism.data
        #expect(configuration.plan(ranks: 4, rank: 1).groupSize == 1)
    }
}

/// Moving parameters between the whole model's layout and a rank's.
@Suite struct ParallelPlanParameterTests {
    /// The tensors' elements (not the alignment gaps between them, which neither layout carries).
    static func tensors(_ arena: ParameterArena) -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: arena.views.map { ($0.name, Array(arena.values[$0.range])) })
    }

    /// Each rank extracts its part (conv whole, FC rows of its shard); assembling every rank's part gives the
    /// whole model back, with uneven shards (K = 3: fc8's 10 rows as 4, 3, 3).
    @Test(arguments: [ParallelPlan.Parallelism.hybrid, .data])
    func extractThenAssembleIsTheWholeModel(_ parallelism: ParallelPlan.Parallelism) throws {
        let ranks = 3
        let model = AlexNet.small
        let whole = model.makeArena()
        for i in whole.values.indices { whole.values[i] = Float(i % 9973) * 0.001 - 5 }
        let original = Self.tensors(whole)
        let assembled = try InProcessCommunicator.run(size: ranks) { comm -> ([String: [Float]], Bool) in
            let plan = ParallelPlan(
                model: model, ranks: ranks, rank: comm.rank, parallelism: parallelism, scheme: .b, batchPerRank: 4)
            let part = ParameterArena(layout: plan.parameterLayout)
            plan.extract(UnsafeBufferPointer(whole.values), layout: whole, into: part.values, layout: part)
            // The rank's fc8 rows are the whole fc8's rows `rows(10, 3, rank)`.
            let rows = parallelism == .hybrid ? ParallelPlan.rows(10, ranks: ranks, rank: comm.rank) : 0..<10
            let fc8 = whole.view("fc8.weight"), mine = part.view("fc8.weight")
            let width = fc8.shape[1]
            let expectedRows = Array(
                whole.values[(fc8.offset + rows.lowerBound * width)..<(fc8.offset + rows.upperBound * width)])
            let rowsMatch = Array(part.values[mine.range]) == expectedRows
            let back = model.makeArena()
            try plan.assemble(
                UnsafeBufferPointer(part.values), layout: part, into: back.values, layout: back, communicator: comm)
            return (Self.tensors(back), rowsMatch)
        }
        for (values, rowsMatch) in assembled {
            #expect(rowsMatch)
            let differing = original.keys.filter { values[$0] != original[$0] }.sorted()
            #expect(values.count == original.count && differing.isEmpty, "tensors differing: \(differing)")
        }
    }
}
