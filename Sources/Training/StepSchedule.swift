import Datasets

/// How the ranks share one training step and an evaluation, chosen by the plan's parallelism: the data
/// schedule (`DataParallelSchedule`, every layer replicated; one rank is its K = 1 case) or the hybrid one
/// (`HybridSchedule`, schemes a/b/c). The lifecycle around it (`ParallelTrainer`) is the same for all.
///
/// Both are collectives: every rank calls them with the same arguments, in the same order (the contract of
/// `Communicator`).
protocol StepSchedule: AnyObject {
    /// One training step on the B examples in the rank's `network.input` with their `labels`: forward,
    /// backward, gradient synchronisation and the update at the given learning rates. Returns this rank's
    /// share of the loss summed over the step's K·B examples: the trainer adds the shares in rank order in
    /// the step's one reduction of figures (`ParallelTrainer.step`).
    func step(labels: [Int32], step: Int, rates: (convolutional: Float, fullyConnected: Float)) throws -> Double

    /// The figures of the model on every example of `sampler` (every rank the same figures).
    func evaluate(_ sampler: BatchSampler) throws -> EvaluationResult
}
