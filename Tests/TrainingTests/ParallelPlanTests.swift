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
