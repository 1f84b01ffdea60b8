import Compute
import Datasets
import Testing

@testable import Training

/// The loop tells each step the batches of the steps that follow, as it then trains them (Note
/// [prefetching]): within an epoch, across epoch boundaries, up to `--max-steps` and the last epoch.
@Suite struct TrainingLoopTests {
    /// Every step's (epoch, examples) and the upcoming batches it was told.
    static func run(
        epochs: Int, maxSteps: Int?, prefetch: Int, from start: TrainingPosition = TrainingPosition()
    )
        throws -> (taken: [TrainingLoop.Batch], told: [[TrainingLoop.Batch]])
    {
        var c = recipe(batch: 3, steps: 1)
        c.maxSteps = maxSteps
        c.epochs = epochs
        c.prefetch = prefetch
        let data = syntheticImages(count: 10, seed: 1)  // 3 steps of 3 per epoch, one example left over
        let loop = TrainingLoop(
            configuration: c, samplers: TrainingSamplers(c, train: data, test: data.prefix(3)), examplesPerStep: 3)
        let progress = TrainingProgress(
            totalSteps: loop.totalSteps(from: start), imagesPerStep: 3, logEvery: 1_000,
            metrics: try MetricsLog(path: nil), output: { _ in })
        var taken: [TrainingLoop.Batch] = [], told: [[TrainingLoop.Batch]] = []
        _ = try loop.run(progress: progress, from: start) { examples, epoch, _, _, upcoming in
            taken.append(TrainingLoop.Batch(epoch: epoch, examples: examples))
            told.append(upcoming)
            return TrainingLoop.StepOutcome(loss: 1)
        } evaluate: { _ in
            EvaluationResult(examples: 1, top1Error: 0, top5Error: 0, meanLoss: 0)
        }
        return (taken, told)
    }

    /// `evaluatesFirst` says what the loop does: from an epoch's last step (a stop or `--checkpoint-every`
    /// there) the run evaluates before its first step, from anywhere else it does not (Note [resuming a log]).
    @Test func evaluatesFirstSaysWhatTheLoopDoes() throws {
        var c = recipe(batch: 3, steps: 1)
        c.epochs = 3
        let data = syntheticImages(count: 10, seed: 1)  // 3 steps of 3 per epoch
        for evaluateEvery in [1, 2] {
            c.evaluateEvery = evaluateEvery
            let loop = TrainingLoop(
                configuration: c, samplers: TrainingSamplers(c, train: data, test: data.prefix(3)),
                examplesPerStep: 3)
            for (epoch, exampleInEpoch) in [(0, 0), (0, 6), (0, 9), (1, 9), (2, 3), (2, 9)] {
                var start = TrainingPosition()
                start.epoch = epoch
                start.exampleInEpoch = exampleInEpoch
                start.step = epoch * 3 + exampleInEpoch / 3
                let progress = TrainingProgress(
                    totalSteps: loop.totalSteps(from: start), imagesPerStep: 3, logEvery: 1_000,
                    metrics: try MetricsLog(path: nil), output: { _ in })
                var firstWasEvaluation: Bool?
                _ = try loop.run(progress: progress, from: start) { _, _, _, _, _ in
                    if firstWasEvaluation == nil { firstWasEvaluation = false }
                    return TrainingLoop.StepOutcome(loss: 1)
                } evaluate: { _ in
                    if firstWasEvaluation == nil { firstWasEvaluation = true }
                    return EvaluationResult(examples: 1, top1Error: 0, top5Error: 0, meanLoss: 0)
                }
                #expect(
                    loop.evaluatesFirst(from: start) == (firstWasEvaluation == true),
                    "epoch \(epoch), example \(exampleInEpoch), --evaluate-every \(evaluateEvery)")
            }
        }
    }

    @Test(arguments: [(3, nil, 2), (3, 7, 2), (2, nil, 4), (3, nil, 0)] as [(Int, Int?, Int)])
    func upcomingBatchesAreTheOnesTrainedNext(epochs: Int, maxSteps: Int?, prefetch: Int) throws {
        let (taken, told) = try Self.run(epochs: epochs, maxSteps: maxSteps, prefetch: prefetch)
        let steps = min(epochs * 3, maxSteps ?? .max)
        #expect(taken.count == steps)
        for (step, upcoming) in told.enumerated() {
            let next = Array(taken[(step + 1)...].prefix(prefetch))
            #expect(upcoming == next, "step \(step)")
        }
        #expect(Set(taken.map(\.epoch)).count == (steps + 2) / 3)
    }

    @Test func aResumedRunIsToldFromItsPosition() throws {
        var start = TrainingPosition()
        start.step = 4
        start.epoch = 1
        start.exampleInEpoch = 3
        let (taken, told) = try Self.run(epochs: 3, maxSteps: nil, prefetch: 2, from: start)
        #expect(taken.count == 5)
        #expect(told[0] == Array(taken[1...2]))
        #expect(told.last == [])
    }
}
