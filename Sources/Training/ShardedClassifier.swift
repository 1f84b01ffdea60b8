import Collectives
import Compute

/// One rank's part of the fully connected stage in hybrid parallelism (Krizhevsky 2014): every FC layer is
/// sharded by output neurons over a group of G ranks, which run their shards together on the same n examples.
///
///     features  (n, F)    every rank holds the same gathered rows
///     fc_i      (n, I) → (n, m_i)   m_i = this rank's rows of layer i (`ParallelPlan.rows`)
///     logits    (n, C)    all-gathered, identical on every rank
///
/// Forward: each shard computes its output columns (then ReLU and dropout on its own columns, dropout
/// drawn by global row and column so the masks are one process's); the columns are all-gathered into the
/// next layer's input. fc8's shards are all-gathered too, so every rank evaluates the exact softmax over
/// all classes.
///
/// Backward: each rank back-propagates its own classes' columns of ∂L/∂logits. A shard's input gradient is
/// partial (its rows' contribution only); the partials are summed by a reduce-scatter whose segments are
/// the previous layer's shards, so each rank receives the gradient of its own columns. fc6's partial
/// gradient with respect to the features is returned to the caller, which sums it onto the examples'
/// owners.
///
/// Every collective runs on `communicator`, in the same order on every rank; sums follow Note
/// [deterministic reduction], so the result is bit-identical under MPI and in-process.
public final class ShardedClassifier {
    public let plan: ParallelPlan
    /// Examples per call.
    public let batch: Int
    public let loss: SoftmaxCrossEntropy
    private let communicator: Communicator
    private let stream: ComputeStream
    private let stages: [Stage]
    /// The gathered logits (n, C).
    private let logits: Tensor
    /// This rank's columns of ∂L/∂logits, (n, m_last).
    private let gradientColumns: Tensor

    /// One FC layer's shard and the element-wise layers after it.
    private struct Stage {
        let linear: Linear
        let after: [Layer]
        let dropouts: [Dropout]
        /// Every rank's rows of this layer (the column blocks of its gathered output).
        let columns: [Range<Int>]
        /// Gathered output (n, O), the next layer's input (the logits after the last layer).
        let gathered: Tensor
        /// The all-gather's receive buffer and the reduce-scatter's send buffer: rank q's block (n, m_q),
        /// blocks in rank order.
        let blocks: Tensor
        /// The summed gradient of this rank's output columns, (n, m_rank).
        let gradient: Tensor
    }

    /// - Parameters:
    ///   - plan: this rank's hybrid plan; its `parameterLayout` must be `arena`'s.
    ///   - batch: n, the examples of each call.
    ///   - seed: the run's seed, for dropout.
    public init(
        plan: ParallelPlan, arena: ParameterArena, batch: Int, communicator: Communicator, seed: UInt64,
        stream: ComputeStream = ComputeStream()
    ) {
        precondition(
            communicator.size == plan.groupSize && communicator.rank == plan.position,
            "sharded classifier: plan for position \(plan.position) of a group of \(plan.groupSize), communicator is rank \(communicator.rank) of \(communicator.size)"
        )
        precondition(batch >= 1, "sharded classifier: batch must be positive, got \(batch)")
        self.plan = plan
        self.batch = batch
        self.communicator = communicator
        self.stream = stream
        var stages: [Stage] = []
        var linear: Linear?
        var after: [Layer] = []
        func close() {
            guard let linear else { return }
            let outputs = plan.fullyConnected[stages.count].outputs
            stages.append(
                Stage(
                    linear: linear, after: after, dropouts: after.compactMap { $0 as? Dropout },
                    columns: (0..<plan.groupSize).map { ParallelPlan.rows(outputs, ranks: plan.groupSize, rank: $0) },
                    gathered: Tensor(plain: [batch, outputs]), blocks: Tensor(plain: [batch * outputs]),
                    gradient: Tensor(plain: [batch, linear.outFeatures])))
        }
        for stage in plan.model.classifier {
            switch stage {
            case .linear(let name, _):
                close()
                linear = Linear(
                    name: name, batch: batch, weight: arena.view("\(name).weight"),
                    bias: arena.view("\(name).bias"), arena: arena, stream: stream, computeInputGradient: true)
                after = []
            case .relu(let name):
                after.append(ReLU(name: name, input: linear!.outputDesc, stream: stream))
            case .dropout(let name, let p):
                let dropout = Dropout(name: name, probability: p, input: linear!.outputDesc, seed: seed)
                dropout.columnOffset = plan.shards[stages.count].rows.lowerBound
                after.append(dropout)
            default:
                preconditionFailure("sharded classifier: stage \(stage.name) cannot follow a linear layer")
            }
        }
        close()
        self.stages = stages
        logits = stages.last!.gathered
        loss = SoftmaxCrossEntropy(batch: batch, classes: plan.model.classes)
        gradientColumns = Tensor(plain: [batch, plan.shards.last!.rows.count])
    }

    /// Runs the sharded stack on `features` (n, F), the same rows on every rank; returns the gathered logits
    /// (n, C), identical on every rank and owned by the classifier.
    /// - Parameters:
    ///   - step: the training step, which selects the dropout masks.
    ///   - rows: each row's index in the step's whole batch, for the dropout masks.
    public func forward(_ features: Tensor, training: Bool, step: UInt64 = 0, rows: [Int]? = nil) throws -> Tensor {
        precondition(
            features.dims == [batch, plan.model.featureWidth],
            "sharded classifier: features are \(features.dims), expected \([batch, plan.model.featureWidth])")
        var x = features
        for stage in stages {
            for dropout in stage.dropouts {
                dropout.step = step
                dropout.rowIndices = rows
            }
            var y = stage.linear.forward(x, training: training)
            for layer in stage.after { y = layer.forward(y, training: training) }
            stream.wait()
            try gatherColumns(y, stage)
            x = stage.gathered
        }
        return x
    }

    /// Softmax cross-entropy on the gathered logits (the same on every rank): the sum of the n examples'
    /// losses.
    public func lossSum(labels: some Collection<Int32>) -> Double {
        loss.forward(logits: logits, labels: labels)
    }

    /// Back-propagates `scale · Σ loss` (after `lossSum`) through this rank's shards, writing its FC
    /// parameter gradients into the arena.
    /// - Returns: this rank's partial gradient with respect to the features (n, F); the sum over ranks is
    ///   the whole gradient.
    public func backward(scale: Float) throws -> Tensor {
        let full = loss.backward(scale: scale).floats, mine = gradientColumns.floats
        let classes = plan.model.classes, own = stages.last!.columns[plan.position]
        for n in 0..<batch {
            for (j, c) in own.enumerated() { mine[n * own.count + j] = full[n * classes + c] }
        }
        var g = gradientColumns
        for (index, stage) in stages.enumerated().reversed() {
            for layer in stage.after.reversed() { g = layer.backward(g)! }
            let partial = stage.linear.backward(g)!
            stream.wait()
            if index == 0 { return partial }
            g = try sumColumns(partial, into: stages[index - 1])
        }
        preconditionFailure("sharded classifier: no layers")
    }

    /// All-gathers the ranks' column blocks `shard` (n, m_rank) into `stage.gathered` (n, O).
    private func gatherColumns(_ shard: Tensor, _ stage: Stage) throws {
        let n = batch, width = stage.gathered.dims[1]
        try communicator.allGather(
            UnsafeBufferPointer(shard.floats), counts: stage.columns.map { n * $0.count }, into: stage.blocks.floats)
        let blocks = stage.blocks.floats, out = stage.gathered.floats
        var offset = 0
        for columns in stage.columns {
            let m = columns.count
            for row in 0..<n {
                for j in 0..<m { out[row * width + columns.lowerBound + j] = blocks[offset + row * m + j] }
            }
            offset += n * m
        }
    }

    /// Sums the ranks' partial input gradients (n, I) of the layer after `previous`: packs them into one
    /// column block per rank (the blocks are `previous`'s shards) and reduce-scatters, so this rank receives
    /// the summed gradient of its own columns, (n, m_rank), in `previous.linear`'s output format.
    private func sumColumns(_ partial: Tensor, into previous: Stage) throws -> Tensor {
        let n = batch, width = partial.dims[1]
        let source = partial.floats, blocks = previous.blocks.floats
        var offset = 0
        for columns in previous.columns {
            let m = columns.count
            for row in 0..<n {
                for j in 0..<m { blocks[offset + row * m + j] = source[row * width + columns.lowerBound + j] }
            }
            offset += n * m
        }
        try communicator.reduceScatter(
            UnsafeBufferPointer(blocks), counts: previous.columns.map { n * $0.count }, into: previous.gradient.floats)
        return previous.gradient
    }
}
