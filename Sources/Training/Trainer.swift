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
    /// Where checkpoints go (model, momentum, position), written atomically every `checkpointEvery` steps
    /// and at the end.
    public var checkpointPath: String?
    /// Steps between checkpoints (nil: only at the end).
    public var checkpointEvery: Int?
    /// A checkpoint to continue from.
    public var resumePath: String?
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
    public init(
        steps: Int, epochs: Int, seconds: Double, finalLoss: Double, test: EvaluationResult,
        validation: EvaluationResult?, position: TrainingPosition
    ) {
        self.position = position
        self.steps = steps
        self.epochs = epochs
        self.seconds = seconds
        self.finalLoss = finalLoss
        self.test = test
        self.validation = validation
    }

    /// Where the run stopped (what its last checkpoint records).
    public var position: TrainingPosition
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
    private let loop: TrainingLoop
    private let start: TrainingPosition
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
        try Trainer.validate(c, train: train, test: test, globalBatch: c.batchSize)
        configuration = c
        self.progress = progress
        loop = TrainingLoop(
            configuration: c, samplers: TrainingSamplers(c, train: train, test: test), examplesPerStep: c.batchSize)
        arena = c.model.makeArena()
        c.initialization.apply(to: arena, model: c.model, seed: c.seed)
        network = Network(model: c.model, arena: arena, batch: c.batchSize, seed: c.seed)
        optimizer = SGD(arena: arena, momentum: c.momentum, weightDecay: c.weightDecay)
        evaluator = Evaluator(model: c.model, arena: arena, batchSize: c.batchSize)
        evaluator.adopt(network)
        if let path = c.resumePath {
            let checkpoint = try Checkpoint.load(path, for: c)
            arena.copyValues(from: checkpoint.model.arena)
            _ = optimizer.velocity.update(fromContentsOf: checkpoint.velocity)
            start = checkpoint.position
        } else {
            start = TrainingPosition()
        }
        for path in [c.outputPath, c.checkpointPath].compactMap({ $0 }) { try AtomicFile.checkWritable(path) }
        metrics = try MetricsLog(path: c.metricsPath)
    }

    /// Checks a configuration against the data: image shape, classes, validation split, crop padding and a
    /// step of `globalBatch` examples.
    public static func validate(
        _ c: TrainingConfiguration, train: LabeledImages, test: LabeledImages, globalBatch: Int
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
        guard fitCount >= globalBatch else {
            throw TrainingError(
                globalBatch == c.batchSize
                    ? "batch size \(c.batchSize) exceeds the \(fitCount) training examples"
                    : "a step takes \(globalBatch) examples (\(globalBatch / c.batchSize) ranks × batch size \(c.batchSize)), more than the \(fitCount) training examples"
            )
        }
    }

    /// Steps per epoch: full batches only (the examples left over change every epoch with the shuffle).
    public var stepsPerEpoch: Int { loop.stepsPerEpoch }

    public func run() throws -> TrainingResult {
        let c = configuration
        let samplers = loop.samplers
        let reporter = TrainingProgress(
            totalSteps: loop.totalSteps(from: start), imagesPerStep: c.batchSize, logEvery: c.logEvery,
            metrics: metrics,
            output: progress)
        progress(
            "training \(c.model.name) (\(arena.parameterCount) parameters) on \(samplers.train.data.count) examples: \(stepsPerEpoch) steps per epoch of \(c.batchSize), \(loop.totalSteps(from: start)) steps, \(ComputeEngine.threadCount) threads"
        )
        if let path = c.resumePath {
            progress("resuming from \(path) at step \(start.step) (epoch \(start.epoch + 1))")
        }
        var labels = [Int32](repeating: 0, count: c.batchSize)
        let result = try loop.run(progress: reporter, from: start) { examples, epoch, step, rate in
            labels.withUnsafeMutableBufferPointer { l in
                samplers.train.fill(examples, epoch: epoch, training: true, images: network.input.floats, labels: l)
            }
            let loss = network.computeGradients(labels: labels, step: UInt64(step)) / Double(c.batchSize)
            optimizer.step(learningRate: rate)
            return loss
        } evaluate: {
            evaluator.evaluate($0)
        } checkpoint: { position in
            guard let path = c.checkpointPath else { return }
            try Checkpoint.save(
                path, model: c.model, groups: c.groups, arena: arena, velocity: UnsafeBufferPointer(optimizer.velocity),
                normalization: samplers.normalization, classNames: c.classNames, position: position, seed: c.seed)
        }
        if let path = c.outputPath {
            try ModelFile.save(
                path, model: c.model, groups: c.groups, arena: arena,
                normalization: samplers.normalization, classNames: c.classNames,
                extra: ["step": String(result.steps), "epoch": String(result.epochs), "seed": String(c.seed)])
            progress("model written to \(path)")
        }
        return result
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
