import Compute
import Testing

@testable import Training

@Suite struct ShardedLinearTests {
    /// A Linear over one rank's rows of the arena (its `ParallelPlan.parameterLayout`) computes that rank's
    /// output columns and weight-gradient rows of the whole layer, and the ranks' partial input gradients sum
    /// to the whole layer's. Each output sums 1024 products of magnitude ≤ 1 and oneDNN may block that sum
    /// differently for another number of rows, so results are compared to 2e-4 absolute (1024 terms ×
    /// a few units of fp32 rounding); the summed partial input gradients differ from the one-GEMM result by
    /// the order of additions only.
    @Test(arguments: [2, 3, 4])
    func rowShardsOfLinearLayersReproduceTheWholeLayer(_ ranks: Int) {
        let model = AlexNet.small
        let batch = 6
        let full = model.makeArena()
        _ = full.values.update(fromContentsOf: values(full.count, seed: 1))
        let stream = ComputeStream()
        let layer = ParallelPlan(model: model, ranks: 1, rank: 0, parallelism: .hybrid, scheme: .a, batchPerRank: 1)
            .fullyConnected[1]  // fc7, 1024 → 1024
        func linear(_ arena: ParameterArena) -> Linear {
            Linear(
                name: layer.name, batch: batch, weight: arena.view("\(layer.name).weight"),
                bias: arena.view("\(layer.name).bias"), arena: arena, stream: stream)
        }
        let x = values(batch * layer.inputs, seed: 2), dy = values(batch * layer.outputs, seed: 3)
        let whole = linear(full)
        let y = whole.forward(Tensor(plain: [batch, layer.inputs], values: x), training: true).plainValues()
        let dx = whole.backward(Tensor(plain: [batch, layer.outputs], values: dy))!.plainValues()
        let dw = Array(full.gradients(of: full.view("\(layer.name).weight")))
        var summed = [Float](repeating: 0, count: dx.count)
        for r in 0..<ranks {
            let plan = ParallelPlan(
                model: model, ranks: ranks, rank: r, parallelism: .hybrid, scheme: .a, batchPerRank: batch)
            let rows = plan.shards[1].rows
            let arena = ParameterArena(layout: plan.parameterLayout)
            let w = full.values(of: full.view("\(layer.name).weight")),
                b = full.values(of: full.view("\(layer.name).bias"))
            _ = arena.values(of: arena.view("\(layer.name).weight"))
                .update(fromContentsOf: w[(rows.lowerBound * layer.inputs)..<(rows.upperBound * layer.inputs)])
            _ = arena.values(of: arena.view("\(layer.name).bias")).update(fromContentsOf: b[rows])
            let shard = linear(arena)
            let ys = shard.forward(Tensor(plain: [batch, layer.inputs], values: x), training: true).plainValues()
            let dys = (0..<batch).flatMap { n in
                dy[(n * layer.outputs + rows.lowerBound)..<(n * layer.outputs + rows.upperBound)]
            }
            let dxs = shard.backward(Tensor(plain: [batch, rows.count], values: dys))!.plainValues()
            for n in 0..<batch {
                for (j, o) in rows.enumerated() {
                    #expect(abs(ys[n * rows.count + j] - y[n * layer.outputs + o]) <= 2e-4)
                }
            }
            let dws = Array(arena.gradients(of: arena.view("\(layer.name).weight")))
            let expected = Array(dw[(rows.lowerBound * layer.inputs)..<(rows.upperBound * layer.inputs)])
            #expect(
                zip(dws, expected).allSatisfy { abs($0 - $1) <= 2e-4 }, "rank \(r) weight gradient")
            for i in 0..<summed.count { summed[i] += dxs[i] }
        }
        #expect(zip(summed, dx).allSatisfy { abs($0 - $1) <= 2e-4 }, "Σ partial input gradients")
    }
}
