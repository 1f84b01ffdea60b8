import Collectives
import Compute
import Testing

@testable import Training

@Suite struct ShardedClassifierTests {
    /// K ranks running their FC shards together compute what the whole FC stack computes in one process:
    /// the logits (all-gathered, so the softmax over sharded classes is exact), the loss, every FC parameter
    /// gradient (each rank's rows) and the gradient with respect to the features (the sum of the ranks'
    /// partials). Dropout is on, drawn by global row and column. Compared to 1e-5: the shards' GEMMs block
    /// the 512- and 1024-term sums differently from the whole layer's (a few fp32 roundings).
    @Test(arguments: [2, 3, 4])
    func shardedStackEqualsTheWholeStack(_ ranks: Int) throws {
        let model = AlexNet.small, n = 6, width = model.featureWidth
        let full = model.makeArena()
        Initialization.he.apply(to: full, model: model, seed: 3)
        let features = values(n * width, seed: 4)
        let labels: [Int32] = (0..<n).map { Int32(($0 * 7) % model.classes) }

        // The whole stack, as the single-process network runs it.
        let stream = ComputeStream()
        let input = Tensor(plain: [n, width], values: features)
        let layers = Network.buildLayers(
            model.classifier, input: input.desc, batch: n, arena: full, seed: 5, stream: stream,
            firstNeedsInputGradient: true)
        var x = input
        for layer in layers {
            x = layer.forward(x, training: true)
            stream.wait()
        }
        let logits = x.plainValues()
        let loss = SoftmaxCrossEntropy(batch: n, classes: model.classes)
        let lossSum = loss.forward(logits: x, labels: labels)
        var g: Tensor = loss.backward(scale: 1 / Float(n))
        for layer in layers.reversed() {
            g = layer.backward(g)!
            stream.wait()
        }
        let featureGradient = g.plainValues()

        let sharded = try InProcessCommunicator.run(size: ranks) { comm in
            let plan = ParallelPlan(
                model: model, ranks: ranks, rank: comm.rank, parallelism: .hybrid, scheme: .a, batchPerRank: n)
            let arena = ParameterArena(layout: plan.parameterLayout)
            plan.extract(UnsafeBufferPointer(full.values), layout: full, into: arena.values, layout: arena)
            let classifier = ShardedClassifier(plan: plan, arena: arena, batch: n, communicator: comm, seed: 5)
            let logits = try classifier.forward(
                Tensor(plain: [n, width], values: features), training: true, rows: Array(0..<n)
            ).plainValues()
            let lossSum = classifier.lossSum(labels: labels)
            let partial = try classifier.backward(scale: 1 / Float(n)).plainValues()
            var summed = partial
            try summed.withUnsafeMutableBufferPointer { try comm.allReduce($0) }
            let whole = model.makeArena()
            try plan.assemble(
                UnsafeBufferPointer(arena.gradients), layout: arena, into: whole.gradients, layout: whole,
                communicator: comm)
            return (logits, lossSum, summed, Array(whole.gradients))
        }
        let fc = Set(model.classifier.map(\.name))
        for (rank, result) in sharded.enumerated() {
            #expect(zip(result.0, logits).allSatisfy { abs($0 - $1) <= 1e-5 }, "rank \(rank) logits")
            #expect(abs(result.1 - lossSum) <= 1e-5 * abs(lossSum), "rank \(rank) loss \(result.1) vs \(lossSum)")
            #expect(zip(result.2, featureGradient).allSatisfy { abs($0 - $1) <= 1e-5 }, "rank \(rank) ∂L/∂features")
            for view in full.views where fc.contains(view.layer) {
                let expected = full.gradients[view.range], got = result.3[view.range]
                #expect(zip(got, expected).allSatisfy { abs($0 - $1) <= 1e-5 }, "rank \(rank) \(view.name) gradient")
            }
        }
        // The reference must exercise dropout and non-trivial gradients.
        #expect(featureGradient.contains { abs($0) > 1e-4 })
    }
}
