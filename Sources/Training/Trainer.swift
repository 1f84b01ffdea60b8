import Compute
import Datasets
import Foundation

/// Everything a single-process training run needs to know.
public struct TrainingConfiguration: Sendable {
    public var model: AlexNet
    public var groups = 1
    public var initialization: Initialization
    public var batchSize = 128
    public var epochs = 1
    /// Stop after this many steps even if epochs remain (nil: run every epoch).
    public var maxSteps: Int?
    public var learningRate: Float = 0.01
    public var momentum: Float = 0.9
    public var weightDecay: Float = 0.0005
    public var schedule: LearningRateSchedule = .constant
    public var seed: UInt64 = 1
    public var augmentation: Augmentation = .none
    /// Examples held out from the end of the training set to drive the plateau schedule (0: none).
    public var validationCount = 0
    /// Steps between progress lines and metrics records.
    public var logEvery = 50
    /// Epochs between evaluations on the test set (the last epoch is always evaluated).
    public var evaluateEvery = 1
    public var metricsPath: String?
    public var outputPath: String?
    /// Class names in label order, recorded in the model file (JPEG folders).
    public var classNames: [String]?

    public init(model: AlexNet) {
        self.model = model
        initialization = model.defaultInitialization
    }
}

public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// What a finished run reports.
public struct TrainingResult: Sendable {
    public var steps: Int
    public var epochs: Int
    public var seconds: Double
    public var finalLoss: Double
    public var test: EvaluationResult
    public var validation: EvaluationResult?
}

/// Single-process training: the paper's SGD on mini-batches, per-epoch evaluation, the model saved at the end.
public final class Trainer {
    public let configuration: TrainingConfiguration
    public let arena: ParameterArena
    public let network: Network
    public let optimizer: SGD
    private let trainSampler: BatchSampler
    private let validationSampler: BatchSampler?
    private let testSampler: BatchSampler
    private let evaluator: Evaluator
    private let metrics: MetricsLog
    private let progress: (String) -> Void

    /// - Parameters:
    ///   - train, test: data whose image shape matches the variant's input.
    ///   - progress: receives human-readable progress lines.
    public init(
        configuration c: TrainingConfiguration, train: LabeledImages, test: LabeledImages,
        progress: @escaping (String) -> Void = { _ in }
    ) throws {
        let expected = c.model.inputShape
        for data in [train, test] {
            guard data.imageShape == expected else {
                throw TrainingError(
                    "\(data.source): images are \(data.imageShape.map(String.init).joined(separator: "×")); variant \(c.model.name) expects \(expected.map(String.init).joined(separator: "×"))"
                )
            }
            guard data.classes <= c.model.classes else {
                throw TrainingError(
                    "\(data.source): \(data.classes) classes; variant \(c.model.name) has \(c.model.classes) outputs")
            }
        }
        guard c.validationCount >= 0, c.validationCount < train.count else {
            throw TrainingError("--validation \(c.validationCount) must be below the \(train.count) training examples")
        }
        guard c.augmentation.cropPadding < expected[1] else {
            throw TrainingError(
                "crop padding \(c.augmentation.cropPadding) must be below the image size \(expected[1])")
        }
        let fitCount = train.count - c.validationCount
        guard fitCount >= c.batchSize else {
            throw TrainingError("batch size \(c.batchSize) exceeds the \(fitCount) training examples")
        }
        configuration = c
        self.progress = progress
        let fit = c.validationCount > 0 ? train.slice(0..<fitCount) : train
        let normalization = fit.channelStatistics()
        trainSampler = BatchSampler(
            data: fit, normalization: normalization, augmentation: c.augmentation,
            shuffle: true, seed: c.seed)
        validationSampler =
            c.validationCount > 0
            ? BatchSampler(
                data: train.slice(fitCount..<train.count), normalization: normalization, shuffle: false, seed: c.seed)
            : nil
        testSampler = BatchSampler(data: test, normalization: normalization, shuffle: false, seed: c.seed)
        arena = c.model.makeArena()
        c.initialization.apply(to: arena, model: c.model, seed: c.seed)
        network = Network(model: c.model, arena: arena, batch: c.batchSize, seed: c.seed)
        optimizer = SGD(arena: arena, momentum: c.momentum, weightDecay: c.weightDecay)
        evaluator = Evaluator(model: c.model, arena: arena, batchSize: c.batchSize)
        evaluator.adopt(network)
        if let output = c.outputPath { try AtomicFile.checkWritable(output) }
        metrics = try MetricsLog(path: c.metricsPath)
    }

    /// Steps per epoch: full batches only (the examples left over change every epoch with the shuffle).
    public var stepsPerEpoch: Int { trainSampler.data.count / configuration.batchSize }

    public func run() throws -> TrainingResult {
        let c = configuration
        let totalSteps = min(c.epochs * stepsPerEpoch, c.maxSteps ?? Int.max)
        var scheduler = LearningRateScheduler(base: c.learningRate, schedule: c.schedule)
        var labels = [Int32](repeating: 0, count: c.batchSize)
        let start = monotonicSeconds()
        var step = 0
        var windowLoss = 0.0, windowSteps = 0, windowStart = start
        var lastLoss = Double.nan
        var test = EvaluationResult(examples: 0, top1Error: 1, top5Error: 1, meanLoss: .nan)
        var validation: EvaluationResult?
        var epoch = 0
        progress(
            "training \(c.model.name) (\(arena.parameterCount) parameters) on \(trainSampler.data.count) examples: \(stepsPerEpoch) steps per epoch of \(c.batchSize), \(totalSteps) steps, \(ComputeEngine.threadCount) threads"
        )

        while epoch < c.epochs && step < totalSteps {
            let rate = scheduler.rate(epoch: epoch)
            let order = trainSampler.order(epoch: epoch)
            for b in 0..<stepsPerEpoch where step < totalSteps {
                let batch = order[(b * c.batchSize)..<((b + 1) * c.batchSize)]
                labels.withUnsafeMutableBufferPointer { l in
                    trainSampler.fill(batch, epoch: epoch, training: true, images: network.input.floats, labels: l)
                }
                let loss = network.computeGradients(labels: labels, step: UInt64(step)) / Double(c.batchSize)
                guard loss.isFinite else {
                    throw TrainingError(
                        "training diverged at step \(step) (epoch \(epoch)): the loss is \(loss); try a lower --lr")
                }
                optimizer.step(learningRate: rate)
                step += 1
                windowLoss += loss
                windowSteps += 1
                if step % c.logEvery == 0 || step == totalSteps {
                    let now = monotonicSeconds()
                    let imagesPerSecond = Double(windowSteps * c.batchSize) / (now - windowStart)
                    lastLoss = windowLoss / Double(windowSteps)
                    let eta = Double(totalSteps - step) * Double(c.batchSize) / imagesPerSecond
                    progress(
                        String(
                            format: "step %d/%d  epoch %d  loss %.4f  lr %g  %.0f images/s  ETA %@",
                            step, totalSteps, epoch + 1, lastLoss, rate, imagesPerSecond, formatDuration(eta)))
                    try metrics.record([
                        "event": "step", "step": step, "epoch": epoch + 1, "loss": lastLoss,
                        "learning_rate": Double(rate), "images_per_second": imagesPerSecond,
                        "elapsed_seconds": now - start,
                    ])
                    windowLoss = 0
                    windowSteps = 0
                    windowStart = monotonicSeconds()
                }
            }
            epoch += 1
            let finished = epoch == c.epochs || step >= totalSteps
            if epoch % c.evaluateEvery == 0 || finished {
                let evalStart = monotonicSeconds()
                if let validationSampler {
                    let result = evaluator.evaluate(validationSampler)
                    validation = result
                    try record("validation", result, step: step, epoch: epoch, elapsed: monotonicSeconds() - start)
                    if scheduler.observe(validationError: result.top1Error) {
                        progress(
                            "validation error has not improved: learning rate divided to \(scheduler.rate(epoch: epoch))"
                        )
                    }
                }
                test = evaluator.evaluate(testSampler)
                try record("test", test, step: step, epoch: epoch, elapsed: monotonicSeconds() - start)
                windowStart += monotonicSeconds() - evalStart
            }
        }
        if let path = c.outputPath {
            try ModelFile.save(
                path, model: c.model, groups: c.groups, arena: arena,
                normalization: trainSampler.normalization, classNames: c.classNames,
                extra: ["step": String(step), "epoch": String(epoch), "seed": String(c.seed)])
            progress("model written to \(path)")
        }
        return TrainingResult(
            steps: step, epochs: epoch, seconds: monotonicSeconds() - start, finalLoss: lastLoss,
            test: test, validation: validation)
    }

    private func record(_ split: String, _ r: EvaluationResult, step: Int, epoch: Int, elapsed: Double) throws {
        progress(
            String(
                format: "%@ after epoch %d: top-1 error %.2f%% (accuracy %.2f%%), top-5 error %.2f%%, loss %.4f",
                split, epoch, r.top1Error * 100, r.top1Accuracy * 100, r.top5Error * 100, r.meanLoss))
        try metrics.record([
            "event": "evaluation", "split": split, "step": step, "epoch": epoch, "examples": r.examples,
            "top1_error": r.top1Error, "top5_error": r.top5Error, "top1_accuracy": r.top1Accuracy,
            "loss": r.meanLoss, "elapsed_seconds": elapsed,
        ])
    }
}

/// `1h02m03s`, `4m05s`, `7s`.
public func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "?" }
    let s = Int(seconds.rounded())
    if s >= 3600 { return String(format: "%dh%02dm%02ds", s / 3600, s % 3600 / 60, s % 60) }
    if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
    return "\(s)s"
}

/// 62378344 → "62,378,344".
public func grouped(_ n: Int) -> String {
    let digits = Array(String(n.magnitude))
    var out = n < 0 ? "-" : ""
    for (i, d) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
        out.append(d)
    }
    return out
}
