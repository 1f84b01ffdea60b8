import Compute
import Datasets

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

    /// Steps of a run that starts at `position`: the rest of its epoch and the remaining epochs, at most
    /// `maxSteps` in all.
    public func totalSteps(from position: TrainingPosition = TrainingPosition()) -> Int {
        let c = configuration, count = samplers.train.data.count
        let rest = max(0, count - position.exampleInEpoch) / examplesPerStep
        let epochs = position.step + rest + max(0, c.epochs - position.epoch - 1) * stepsPerEpoch
        return min(position.epoch < c.epochs ? epochs : position.step, c.maxSteps ?? Int.max)
    }

    /// Runs every step from `start`.
    /// - Parameters:
    ///   - step: trains on the step's examples (indices into the training sampler's data, in batch order) at
    ///     `rate`; returns the mean loss.
    ///   - evaluate: the figures on a sampler's whole data set.
    ///   - checkpoint: saves the run at a position (every `checkpointEvery` steps and at the end).
    public func run(
        progress: TrainingProgress, from start: TrainingPosition = TrainingPosition(),
        step train: (_ examples: ArraySlice<Int>, _ epoch: Int, _ step: Int, _ rate: Float) throws -> Double,
        evaluate: (BatchSampler) throws -> EvaluationResult,
        checkpoint: (TrainingPosition) throws -> Void = { _ in }
    ) throws -> TrainingResult {
        let c = configuration, count = samplers.train.data.count
        let totalSteps = totalSteps(from: start)
        var scheduler = LearningRateScheduler(base: c.learningRate, schedule: c.schedule)
        scheduler.state = start.scheduler
        var position = start
        var test = EvaluationResult(examples: 0, top1Error: 1, top5Error: 1, meanLoss: .nan)
        var validation: EvaluationResult?
        while position.epoch < c.epochs && position.step < totalSteps {
            let epoch = position.epoch
            let rate = scheduler.rate(epoch: epoch)
            let order = samplers.train.order(epoch: epoch)
            while position.exampleInEpoch + examplesPerStep <= count && position.step < totalSteps {
                let first = position.exampleInEpoch
                let loss = try train(order[first..<(first + examplesPerStep)], epoch, position.step, rate)
                guard loss.isFinite else {
                    throw TrainingError(
                        "training diverged at step \(position.step) (epoch \(epoch + 1)): the loss is \(loss); try a lower --lr"
                    )
                }
                position.step += 1
                position.exampleInEpoch += examplesPerStep
                try progress.stepFinished(step: position.step, epoch: epoch, loss: loss, rate: rate)
                if let every = c.checkpointEvery, position.step % every == 0, position.step < totalSteps {
                    position.scheduler = scheduler.state
                    try checkpoint(position)
                }
            }
            let epochDone = position.exampleInEpoch + examplesPerStep > count
            if epochDone {
                position.epoch += 1
                position.exampleInEpoch = 0
            }
            let finished = position.epoch == c.epochs || position.step >= totalSteps
            // A run stopped inside an epoch reports it as begun (epoch + 1).
            let reported = position.epoch + (epochDone ? 0 : 1)
            if (epochDone && position.epoch % c.evaluateEvery == 0) || finished {
                if let sampler = samplers.validation {
                    let result = try progress.evaluation("validation", step: position.step, epoch: reported) {
                        try evaluate(sampler)
                    }
                    validation = result
                    if scheduler.observe(validationError: result.top1Error) {
                        progress.say(
                            "validation error has not improved: learning rate divided to \(scheduler.rate(epoch: position.epoch))"
                        )
                    }
                }
                test = try progress.evaluation("test", step: position.step, epoch: reported) {
                    try evaluate(samplers.test)
                }
            }
        }
        position.scheduler = scheduler.state
        try checkpoint(position)
        return TrainingResult(
            steps: position.step, epochs: position.epoch + (position.exampleInEpoch > 0 ? 1 : 0),
            seconds: progress.elapsed, finalLoss: progress.lastLoss, test: test, validation: validation,
            position: position)
    }
}
