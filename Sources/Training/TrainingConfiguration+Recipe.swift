/// ## Note [the recipe across ranks]
///
/// The recipe is a global batch of 128 at learning rate 0.01 (the paper's, and the one that reaches 92.5%
/// on Fashion-MNIST with `small` in 30 epochs). K ranks split that batch: without `--batch-size` each rank
/// takes ⌊128/K⌋ examples, and without `--lr` the rate is 0.01 per 128 examples of the per-rank batch (the
/// linear scaling rule, Goyal et al. 2017), which the trainer then scales by K for the layers that see all
/// K·B examples per update (`ParallelTrainingConfiguration.learningRateFactors`). So the conv layers learn
/// at 0.01 on the global batch of 128, exactly as in one process, and the FC shards, updated per sub-batch
/// of B in schemes (b) and (c) of a single group, at the rate of that sub-batch. With FC groups (1 < G < K)
/// the shards are updated once per step from all K·B examples, so they too learn at 0.01 on the global
/// batch, as one process does (measured: 92.97% with `small`, 4 ranks, G = 2). One process (K = 1) gets the
/// recipe itself.
///
/// The 2014 note's setting (128 per rank, a global batch of 128·K) is `--batch-size 128`; it trains in
/// fewer, larger steps and was measured 2.1 points behind one process after 3 epochs at K = 4.
extension TrainingConfiguration {
    /// The recipe's global batch.
    public static let recipeBatchSize = 128
    /// The recipe's learning rate at `recipeBatchSize`.
    public static let recipeLearningRate: Float = 0.01

    /// The per-rank batch on `ranks` ranks when none is given: the recipe's global batch split.
    public static func defaultBatchSize(ranks: Int) -> Int { max(1, recipeBatchSize / max(1, ranks)) }

    /// The base learning rate for a per-rank batch of `batchSize` when none is given (linear scaling).
    public static func defaultLearningRate(batchSize: Int) -> Float {
        recipeLearningRate * Float(batchSize) / Float(recipeBatchSize)
    }

    /// Fills in the per-rank batch and the learning rate for `ranks` ranks where the user gave none
    /// (Note [the recipe across ranks]).
    public mutating func applyRecipeDefaults(ranks: Int, batchSize: Int?, learningRate: Float?) {
        self.batchSize = batchSize ?? TrainingConfiguration.defaultBatchSize(ranks: ranks)
        self.learningRate = learningRate ?? TrainingConfiguration.defaultLearningRate(batchSize: self.batchSize)
    }
}
