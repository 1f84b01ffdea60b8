import Compute
import Datasets

/// The trainer's epoch loop: the learning-rate schedule, each epoch's seeded order cut into steps
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
    public var stepsPerEpoch: Int { samplers.train.count / examplesPerStep }

    /// Steps of a run that starts at `position`: the rest of its epoch and the remaining epochs, at most
    /// `maxSteps` in all.
    public func totalSteps(from position: TrainingPosition = TrainingPosition()) -> Int {
        let c = configuration, count = samplers.train.count
        let rest = max(0, count - position.exampleInEpoch) / examplesPerStep
        let epochs = position.step + rest + max(0, c.epochs - position.epoch - 1) * stepsPerEpoch
        return min(position.epoch < c.epochs ? epochs : position.step, c.maxSteps ?? Int.max)
    }

    /// Why a run from `position` would train nothing (`--max-steps` counts from the start of the run), or
    /// nil.
    public func nothingToDo(from position: TrainingPosition) -> String? {
        if position.epoch >= configuration.epochs {
            return
                "the checkpoint is at epoch \(position.epoch) (step \(position.step)), the end of --epochs \(configuration.epochs)"
        }
        if let maxSteps = configuration.maxSteps, position.step >= maxSteps {
            return
                "the checkpoint is at step \(position.step), and --max-steps \(maxSteps) counts from the start of the run"
        }
        return nil
    }

    /// Whether a run from `position` evaluates before its first step: a checkpoint written at an epoch's last
    /// step, before that epoch's evaluation (a stop, `--checkpoint-every`), mirroring `run`.
    public func evaluatesFirst(from position: TrainingPosition) -> Bool {
        let c = configuration
        guard position.epoch < c.epochs, position.step < totalSteps(from: position),
            position.exampleInEpoch + examplesPerStep > samplers.train.count
        else { return false }
        return (position.epoch + 1) % c.evaluateEvery == 0 || position.epoch + 1 == c.epochs
    }

    /// Checks that a checkpoint's position (read from `path`) lies within the data and the schedule.
    public func check(_ position: TrainingPosition, of path: String?) throws {
        let count = samplers.train.count, s = position.scheduler
        func problem(_ field: String, _ value: CustomStringConvertible, _ expected: String) -> TrainingError {
            TrainingError("\(path ?? "checkpoint"): training position \(field) is \(value), expected \(expected)")
        }
        guard position.step >= 0 else { throw problem("step", position.step, "≥ 0") }
        guard position.epoch >= 0 else { throw problem("epoch", position.epoch, "≥ 0") }
        guard (0...count).contains(position.exampleInEpoch) else {
            throw problem(
                "exampleInEpoch", position.exampleInEpoch, "0…\(count) (the examples of the training set)")
        }
        // Every step takes at least one example: no more steps than examples seen (checked arithmetic, so
        // positions near 2⁶³ are refused, not trapped on).
        let (whole, overflow) = position.epoch.multipliedReportingOverflow(by: count)
        let (seen, overflow2) = whole.addingReportingOverflow(position.exampleInEpoch)
        guard !overflow, !overflow2 else {
            throw problem(
                "epoch", position.epoch, "at most \(Int.max / max(count, 1) - 1) (its examples must be countable)")
        }
        guard position.step <= seen else {
            throw problem(
                "step", position.step,
                "at most the examples seen by then (epoch \(position.epoch) × \(count) + \(position.exampleInEpoch))")
        }
        let maxDecays: Int
        if case .plateau(_, _, let most) = configuration.schedule { maxDecays = most } else { maxDecays = 0 }
        guard (0...maxDecays).contains(s.decays) else {
            throw problem("scheduler.decays", s.decays, "0…\(maxDecays) under this --schedule")
        }
        guard s.evaluationsSinceBest >= 0 else {
            throw problem("scheduler.evaluationsSinceBest", s.evaluationsSinceBest, "≥ 0")
        }
        guard !s.bestError.isNaN, s.bestError >= 0 else {
            throw problem("scheduler.bestError", s.bestError, "an error rate ≥ 0 (or inf before the first)")
        }
    }

    /// What a step reports to the loop.
    public struct StepOutcome {
        /// The mean loss over the step's examples.
        public var loss: Double
        /// Why the ranks agreed to stop after this step (Note [stopping on a signal]), or nil.
        public var stop: String?
        public init(loss: Double, stop: String? = nil) {
            self.loss = loss
            self.stop = stop
        }
    }

    /// A step's examples: indices into the training sampler's data of `epoch`, in batch order.
    public struct Batch: Sendable, Equatable {
        public var epoch: Int
        public var examples: ArraySlice<Int>

        public init(epoch: Int, examples: ArraySlice<Int>) {
            self.epoch = epoch
            self.examples = examples
        }
    }

    /// Runs every step from `start`.
    /// - Parameters:
    ///   - step: trains on the step's examples (indices into the training sampler's data, in batch order) at
    ///     `rate`, told the examples of the next steps (up to the training sampler's `prefetch`, to make
    ///     ahead); returns the mean loss and whether to stop (the run then checkpoints and returns at once).
    ///   - evaluate: the figures on a sampler's whole data set.
    ///   - checkpoint: saves the run at a position (every `checkpointEvery` steps and at the end).
    public func run(
        progress: TrainingProgress, from start: TrainingPosition = TrainingPosition(),
        step train:
            (_ examples: ArraySlice<Int>, _ epoch: Int, _ step: Int, _ rate: Float, _ upcoming: [Batch]) throws
            -> StepOutcome,
        evaluate: (BatchSampler) throws -> EvaluationResult,
        checkpoint: (TrainingPosition) throws -> Void = { _ in }
    ) throws -> TrainingResult {
        let c = configuration, count = samplers.train.count
        let totalSteps = totalSteps(from: start)
        var scheduler = LearningRateScheduler(base: c.learningRate, schedule: c.schedule)
        scheduler.state = start.scheduler
        var position = start
        var test = EvaluationResult(examples: 0, top1Error: 1, top5Error: 1, meanLoss: .nan)
        var validation: EvaluationResult?
        func result(at position: TrainingPosition) -> TrainingResult {
            TrainingResult(
                steps: position.step, epochs: position.epoch + (position.exampleInEpoch > 0 ? 1 : 0),
                seconds: progress.elapsed, finalLoss: progress.lastLoss, test: test, validation: validation,
                position: position)
        }
        // The orders of the epoch being trained and the next (the next steps may begin it).
        var orders: [Int: [Int]] = [:]
        func order(_ epoch: Int) -> [Int] {
            if let known = orders[epoch] { return known }
            orders = orders.filter { $0.key >= epoch - 1 }
            let made = samplers.train.order(epoch: epoch)
            orders[epoch] = made
            return made
        }
        /// The batches of the steps after the one at `position`, as the loop below will take them.
        func upcoming(after position: TrainingPosition) -> [Batch] {
            var p = position, batches: [Batch] = []
            p.step += 1
            p.exampleInEpoch += examplesPerStep
            while batches.count < samplers.train.prefetch && p.step < totalSteps {
                if p.exampleInEpoch + examplesPerStep > count {
                    p.epoch += 1
                    p.exampleInEpoch = 0
                }
                guard p.epoch < c.epochs else { break }
                let first = p.exampleInEpoch
                batches.append(Batch(epoch: p.epoch, examples: order(p.epoch)[first..<(first + examplesPerStep)]))
                p.exampleInEpoch += examplesPerStep
                p.step += 1
            }
            return batches
        }
        while position.epoch < c.epochs && position.step < totalSteps {
            let epoch = position.epoch
            let rate = scheduler.rate(epoch: epoch)
            let order = order(epoch)
            while position.exampleInEpoch + examplesPerStep <= count && position.step < totalSteps {
                let first = position.exampleInEpoch
                let outcome = try train(
                    order[first..<(first + examplesPerStep)], epoch, position.step, rate, upcoming(after: position))
                position.step += 1
                position.exampleInEpoch += examplesPerStep
                try progress.stepFinished(step: position.step, epoch: epoch, loss: outcome.loss, rate: rate)
                if let stop = outcome.stop {
                    // At an epoch's last step the position stays in the epoch: the resumed run evaluates it,
                    // as the uninterrupted run would have.
                    position.scheduler = scheduler.state
                    try checkpoint(position)
                    var stopped = result(at: position)
                    stopped.stopped = stop
                    return stopped
                }
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
        return result(at: position)
    }
}
