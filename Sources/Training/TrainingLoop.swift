import Compute
import Datasets

/// The samplers of a run: the training set less a held-out validation tail, the validation tail and the
/// test set, all normalised with the training part's channel statistics.
public struct TrainingSamplers: Sendable {
    public let train: BatchSampler
    public let validation: BatchSampler?
    public let test: BatchSampler

    public init(_ c: TrainingConfiguration, train: LabeledImages, test: LabeledImages) {
        let fitCount = train.count - c.validationCount
        let fit = c.validationCount > 0 ? train.slice(0..<fitCount) : train
        let normalization = fit.channelStatistics()
        self.train = BatchSampler(
            data: fit, normalization: normalization, augmentation: c.augmentation, shuffle: true, seed: c.seed)
        validation =
            c.validationCount > 0
            ? BatchSampler(
                data: train.slice(fitCount..<train.count), normalization: normalization, shuffle: false, seed: c.seed)
            : nil
        self.test = BatchSampler(data: test, normalization: normalization, shuffle: false, seed: c.seed)
    }

    public var normalization: Normalization { train.normalization }
}

/// The epoch loop both trainers share: the learning-rate schedule, each epoch's seeded order cut into steps
/// of `examplesPerStep`, progress, evaluation (validation drives the plateau schedule) and the final result.
public struct TrainingLoop {
    public let configuration: TrainingConfiguration
    public let samplers: TrainingSamplers
    public let examplesPerStep: Int

    public init(configuration: TrainingConfiguration, samplers: TrainingSamplers, examplesPerStep: Int) {
        self.configuration = configuration
        self.samplers = samplers
        self.examplesPerStep = examplesPerStep
    }

    /// Whole steps only: the examples left over change every epoch with the shuffle.
    public var stepsPerEpoch: Int { samplers.train.data.count / examplesPerStep }

    public var totalSteps: Int { min(configuration.epochs * stepsPerEpoch, configuration.maxSteps ?? Int.max) }

    /// Runs every step.
    /// - Parameters:
    ///   - step: trains on the step's examples (indices into the training sampler's data, in batch order) at
    ///     `rate`; returns the mean loss.
    ///   - evaluate: the figures on a sampler's whole data set.
    public func run(
        progress: TrainingProgress,
        step train: (_ examples: ArraySlice<Int>, _ epoch: Int, _ step: Int, _ rate: Float) throws -> Double,
        evaluate: (BatchSampler) throws -> EvaluationResult
    ) throws -> TrainingResult {
        let c = configuration
        var scheduler = LearningRateScheduler(base: c.learningRate, schedule: c.schedule)
        var step = 0, epoch = 0
        var test = EvaluationResult(examples: 0, top1Error: 1, top5Error: 1, meanLoss: .nan)
        var validation: EvaluationResult?
        while epoch < c.epochs && step < totalSteps {
            let rate = scheduler.rate(epoch: epoch)
            let order = samplers.train.order(epoch: epoch)
            for b in 0..<stepsPerEpoch where step < totalSteps {
                let loss = try train(order[(b * examplesPerStep)..<((b + 1) * examplesPerStep)], epoch, step, rate)
                guard loss.isFinite else {
                    throw TrainingError(
                        "training diverged at step \(step) (epoch \(epoch + 1)): the loss is \(loss); try a lower --lr")
                }
                step += 1
                try progress.stepFinished(step: step, epoch: epoch, loss: loss, rate: rate)
            }
            epoch += 1
            let finished = epoch == c.epochs || step >= totalSteps
            if epoch % c.evaluateEvery == 0 || finished {
                if let sampler = samplers.validation {
                    let result = try progress.evaluation("validation", step: step, epoch: epoch) {
                        try evaluate(sampler)
                    }
                    validation = result
                    if scheduler.observe(validationError: result.top1Error) {
                        progress.say(
                            "validation error has not improved: learning rate divided to \(scheduler.rate(epoch: epoch))"
                        )
                    }
                }
                test = try progress.evaluation("test", step: step, epoch: epoch) { try evaluate(samplers.test) }
            }
        }
        return TrainingResult(
            steps: step, epochs: epoch, seconds: progress.elapsed, finalLoss: progress.lastLoss, test: test,
            validation: validation)
    }
}
