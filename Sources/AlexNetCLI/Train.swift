import ArgumentParser
import Compute
import Datasets
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a variant on MNIST-format files or JPEG class folders (default: small on Fashion-MNIST).",
        discussion: """
            Defaults are the recipe that reaches 92% top-1 accuracy on Fashion-MNIST with `small`: the paper's \
            SGD (momentum 0.9, weight decay 0.0005, learning rate 0.01), batch 128, He initialisation, \
            random crops (padding 2) and flips, learning rate ÷10 from epochs 21 and 28, 30 epochs.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var dataOptions: DataOptions

    @Option(help: "Epochs to train.") var epochs: Int = 30
    @Option(help: "Stop after this many steps (for quick checks).") var maxSteps: Int?
    @Option(help: "Examples per step.") var batchSize: Int = 128
    @Option(name: .customLong("lr"), help: "Base learning rate ε.") var learningRate: Float = 0.01
    @Option(help: "Momentum μ.") var momentum: Float = 0.9
    @Option(help: "Weight decay λ (applied as v ← μv − λεw − εg).") var weightDecay: Float = 0.0005
    @Option(
        help:
            "Learning-rate schedule: constant, step (÷10 at --milestones) or plateau (÷10 when the validation error stalls for --patience evaluations, at most 3 times; needs --validation)."
    )
    var schedule: ScheduleKind = .step
    @Option(help: "Epochs (1-based) from which the rate is divided by 10 under --schedule step.")
    var milestones: IntegerList = IntegerList(argument: "21,28")!
    @Option(help: "Evaluations without improvement before a plateau decay.") var patience: Int = 2
    @Option(help: "Training examples held out (from the end) as a validation set.") var validation: Int = 0
    @Option(
        name: .customLong("init"),
        help:
            "Initialisation: paper (N(0,0.01), biases 1), caffe (biases 0.1) or he. Default: the variant's (he for small, paper otherwise)."
    )
    var initialization: Initialization?
    @Option(help: "Random seed (initialisation, order, augmentation, dropout).") var seed: UInt64 = 1
    @Option(help: "Random-crop padding in pixels (0 disables cropping).") var cropPadding: Int = 2
    @Flag(inversion: .prefixedNo, help: "Random horizontal flips.") var flip: Bool = true
    @Option(help: "Steps between progress lines.") var logEvery: Int = 50
    @Option(help: "Epochs between test-set evaluations.") var evaluateEvery: Int = 1
    @Option(
        help: "Metrics file: one JSON line per logged step and per evaluation. Default: runs/<variant>/metrics.jsonl")
    var metrics: String?
    @Option(help: "Model file (safetensors), written atomically at the end. Default: runs/<variant>/model.safetensors")
    var output: String?

    enum ScheduleKind: String, CaseIterable, ExpressibleByArgument { case constant, step, plateau }

    func validate() throws {
        guard (1...100_000).contains(epochs) else {
            throw ValidationError("--epochs must be between 1 and 100000, got \(epochs)")
        }
        if let maxSteps, maxSteps < 1 { throw ValidationError("--max-steps must be at least 1, got \(maxSteps)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        guard learningRate > 0, learningRate.isFinite else {
            throw ValidationError("--lr must be a positive number, got \(learningRate)")
        }
        guard momentum >= 0, momentum < 1 else {
            throw ValidationError("--momentum must be in [0, 1), got \(momentum)")
        }
        guard weightDecay >= 0, weightDecay.isFinite else {
            throw ValidationError("--weight-decay must be ≥ 0, got \(weightDecay)")
        }
        guard milestones.values.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--milestones must be epochs ≥ 1, got \(milestones.defaultValueDescription)")
        }
        guard patience >= 1 else { throw ValidationError("--patience must be at least 1, got \(patience)") }
        guard validation >= 0 else { throw ValidationError("--validation must be ≥ 0, got \(validation)") }
        if schedule == .plateau && validation == 0 {
            throw ValidationError("--schedule plateau needs a validation set: add --validation N (for example 5000)")
        }
        if (dataOptions.trainFolder == nil) != (dataOptions.testFolder == nil) {
            throw ValidationError("--train-folder and --test-folder go together")
        }
        guard (0...1024).contains(cropPadding) else {
            throw ValidationError("--crop-padding must be between 0 and 1024, got \(cropPadding)")
        }
        guard logEvery >= 1 else { throw ValidationError("--log-every must be at least 1, got \(logEvery)") }
        guard evaluateEvery >= 1 else {
            throw ValidationError("--evaluate-every must be at least 1, got \(evaluateEvery)")
        }
    }

    func run() throws {
        compute.apply()
        let model = modelOptions.model
        var c = TrainingConfiguration(model: model)
        c.groups = modelOptions.groups
        c.initialization = initialization ?? model.defaultInitialization
        c.epochs = epochs
        c.maxSteps = maxSteps
        c.batchSize = batchSize
        c.learningRate = learningRate
        c.momentum = momentum
        c.weightDecay = weightDecay
        switch schedule {
        case .constant: c.schedule = .constant
        case .step: c.schedule = .step(milestones: milestones.values.map { $0 - 1 }, factor: 10)
        case .plateau: c.schedule = .plateau(patience: patience, factor: 10, maxDecays: 3)
        }
        c.seed = seed
        c.augmentation = Augmentation(cropPadding: cropPadding, horizontalFlip: flip)
        c.validationCount = validation
        c.logEvery = logEvery
        c.evaluateEvery = evaluateEvery
        c.metricsPath = metrics ?? "runs/\(model.name)/metrics.jsonl"
        c.outputPath = output ?? "runs/\(model.name)/model.safetensors"
        try ensureParentDirectory(of: c.metricsPath!)
        try ensureParentDirectory(of: c.outputPath!)

        let data = try dataOptions.load(imageShape: model.inputShape)
        c.classNames = data.classNames
        let trainer = try Trainer(configuration: c, train: data.train, test: data.test, progress: printError)
        let result = try trainer.run()
        print(
            String(
                format: "%@: %d steps in %@; test top-1 accuracy %.2f%% (error %.2f%%), top-5 error %.2f%%, loss %.4f",
                model.name, result.steps, formatDuration(result.seconds), result.test.top1Accuracy * 100,
                result.test.top1Error * 100, result.test.top5Error * 100, result.test.meanLoss))
    }
}
