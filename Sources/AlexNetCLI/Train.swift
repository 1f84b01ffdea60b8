import ArgumentParser
import Collectives
import Compute
import Datasets
import Foundation
import Launch
import Reports
import Timing
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a variant on MNIST-format files or JPEG class folders (default: small on Fashion-MNIST).",
        discussion: """
            Defaults are the recipe that reaches 92% top-1 accuracy on Fashion-MNIST with `small`: the paper's \
            SGD (momentum 0.9, weight decay 0.0005, learning rate 0.01), batch 128, He initialisation, \
            random crops (padding 2) and flips, learning rate ÷10 from epochs 21 and 28, 30 epochs.

            Started by mpirun (or srun), every rank runs its part of one hybrid-parallel run over MPI; with \
            --simulate K, K in-process ranks run the same code and give bit-identical results. Otherwise it \
            trains in one process. Across ranks, --batch-size is per rank (a step takes K × that many \
            examples) and only rank 0 prints. By default K ranks split the recipe's global batch of 128 \
            (⌊128/K⌋ each, learning rate 0.01 per 128 examples) and follow the 2014 note's best setting: \
            hybrid, scheme (b), FC updated after every sub-batch, conv learning rate × K; so K ranks train \
            as one process does. --batch-size 128 gives the note's global batch of 128·K.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup(title: "Parallel training (under mpirun, or with --simulate)") var parallel: ParallelOptions

    @Option(help: "Epochs to train.") var epochs: Int = 30
    @Option(
        help:
            "Stop after this many steps, counted from the start of the run (a resumed run trains up to it; at or past it there is nothing to do)."
    )
    var maxSteps: Int?
    @Option(
        help:
            "Examples per rank per step. Default: the recipe's global batch of 128 split over the ranks (⌊128/K⌋; 128 in one process)."
    )
    var batchSize: Int?
    @Option(
        name: .customLong("lr"),
        help:
            "Base learning rate ε for a batch of --batch-size (across ranks, scaled per --lr-scaling). Default: 0.01 per 128 examples of --batch-size."
    )
    var learningRate: Float?
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
    @Option(
        help:
            "Random-crop padding in pixels for IDX images (0 disables cropping; default 2). Shards and image folders take random windows of their 256-pixel images instead."
    )
    var cropPadding: Int?
    @Flag(inversion: .prefixedNo, help: "Random horizontal flips.") var flip: Bool = true
    @Option(help: "Steps between progress lines.") var logEvery: Int = 50
    @Option(help: "Epochs between test-set evaluations.") var evaluateEvery: Int = 1
    @Option(
        help: "Metrics file: one JSON line per logged step and per evaluation. Default: runs/<variant>/metrics.jsonl")
    var metrics: String?
    @Option(
        help: ArgumentHelp(
            "TensorBoard event files (rank 0 writes; `tensorboard --logdir DIR`): loss, learning rates, images/s, evaluations, bytes sent and their compression, time per step and its phases, the guards' events; continued across --resume.",
            valueName: "DIR"))
    var tensorboard: String?
    @Flag(
        help:
            "Keep a picture of the training curves next to the metrics file (its name with .png), redrawn after each evaluation (gnuplot; as `alexnet-dist plot`)."
    )
    var plot = false
    @Option(help: "Model file (safetensors), written atomically at the end. Default: runs/<variant>/model.safetensors")
    var output: String?
    @Option(
        help:
            "Checkpoint file (safetensors: the whole model, momentum and the data position), written atomically every --checkpoint-every steps and at the end. Default: runs/<variant>/checkpoint.safetensors"
    )
    var checkpoint: String?
    @Option(help: "Steps between checkpoints (0: write none, not even at the end).") var checkpointEvery: Int = 1000
    @Option(help: "Checkpoints kept on disk (the newest; older ones are removed as new ones are written).")
    var keepCheckpoints: Int = 2
    @Option(
        help:
            "Continue from a checkpoint, exactly (the same flags and seed; any number of ranks: the FC layers are re-sharded): a file, or auto for the newest of this run's --checkpoint series that loads (none: start from the beginning)."
    )
    var resume: String?
    @OptionGroup(title: "When things go wrong") var guards: GuardOptions

    enum ScheduleKind: String, CaseIterable, ExpressibleByArgument { case constant, step, plateau }

    func validate() throws {
        guard (1...100_000).contains(epochs) else {
            throw ValidationError("--epochs must be between 1 and 100000, got \(epochs)")
        }
        if let maxSteps, maxSteps < 1 { throw ValidationError("--max-steps must be at least 1, got \(maxSteps)") }
        if let batchSize, batchSize < 1 {
            throw ValidationError("--batch-size must be at least 1, got \(batchSize)")
        }
        if let learningRate, !(learningRate > 0 && learningRate.isFinite) {
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
        if cropPadding != nil && (dataOptions.test.shards != nil || dataOptions.trainFolder != nil) {
            throw ValidationError(
                "--crop-padding applies to IDX images; --shards and --train-folder take random windows of 256-pixel images"
            )
        }
        let cropPadding = self.cropPadding ?? 2
        guard (0...1024).contains(cropPadding) else {
            throw ValidationError("--crop-padding must be between 0 and 1024, got \(cropPadding)")
        }
        guard logEvery >= 1 else { throw ValidationError("--log-every must be at least 1, got \(logEvery)") }
        guard checkpointEvery >= 0 else {
            throw ValidationError("--checkpoint-every must be ≥ 0 (0: no checkpoints), got \(checkpointEvery)")
        }
        guard evaluateEvery >= 1 else {
            throw ValidationError("--evaluate-every must be at least 1, got \(evaluateEvery)")
        }
        guard keepCheckpoints >= 1 else {
            throw ValidationError("--keep-checkpoints must be at least 1, got \(keepCheckpoints)")
        }
        if resume == "auto" && checkpointEvery == 0 {
            throw ValidationError(
                "--resume auto looks for this run's checkpoints, but --checkpoint-every 0 writes none")
        }
    }

    func run() throws {
        let model = modelOptions.model
        var c = TrainingConfiguration(model: model)
        c.groups = modelOptions.groups
        c.initialization = initialization ?? model.defaultInitialization
        c.epochs = epochs
        c.maxSteps = maxSteps
        c.momentum = momentum
        c.weightDecay = weightDecay
        switch schedule {
        case .constant: c.schedule = .constant
        case .step: c.schedule = .step(milestones: milestones.values.map { $0 - 1 }, factor: 10)
        case .plateau: c.schedule = .plateau(patience: patience, factor: 10, maxDecays: 3)
        }
        c.seed = seed
        c.augmentation = Augmentation(cropPadding: cropPadding ?? 2, horizontalFlip: flip)
        c.validationCount = validation
        c.logEvery = logEvery
        c.evaluateEvery = evaluateEvery
        c.metricsPath = metrics ?? "runs/\(model.name)/metrics.jsonl"
        c.tensorBoardPath = tensorboard
        let metricsPath = c.metricsPath!
        let plotPath = plot ? URL(fileURLWithPath: metricsPath).deletingPathExtension().path + ".png" : nil
        if plot, !Gnuplot.isAvailable {
            throw ValidationError("--plot needs gnuplot: apt-get install gnuplot-nox")
        }
        if let plotPath {
            var status = stat()
            let exists = stat(metricsPath, &status) == 0
            guard plotPath != metricsPath, !exists || status.st_mode & S_IFMT == S_IFREG else {
                throw ValidationError(
                    "--plot draws the metrics file \(metricsPath) into \(plotPath): expected a regular metrics file not named .png"
                )
            }
        }
        c.outputPath = output ?? "runs/\(model.name)/model.safetensors"
        if checkpointEvery > 0 {
            c.checkpointPath = checkpoint ?? "runs/\(model.name)/checkpoint.safetensors"
            c.checkpointEvery = checkpointEvery
        }
        c.keepCheckpoints = keepCheckpoints
        c.prefetch = dataOptions.test.loader.prefetch
        c.resume = resume.map { $0 == "auto" ? .newest : .file($0) }
        let sources = try dataOptions.sources(imageShape: model.inputShape, flip: flip)
        let data = sources == nil ? try dataOptions.load() : nil
        // After the data is found: a run that cannot start leaves no empty run folder behind.
        for path in [c.metricsPath, c.outputPath, c.checkpointPath].compactMap({ $0 }) {
            try ensureParentDirectory(of: path)
        }
        c.classNames = sources?.classNames
        c.model = modelOptions.model(dataClasses: c.classNames?.count)
        var configured = parallel.configuration(c)
        try guards.apply(to: &configured)
        let configuration = configured
        let batchSize = batchSize, learningRate = learningRate
        let speaks = speaksForTheJob
        let autoLayout = parallel.parallel == .auto
        StopRequest.installSignalHandlers(guards.stopSignals.values) { line in if speaks { printError(line) } }
        let result = try parallel.launch.run(
            threads: compute.threads, overlap: parallel.overlap, watchdog: guards.watchdog
        ) { comm, launched in
            var c = configuration
            c.overlap = launched.overlap
            c.training.applyRecipeDefaults(ranks: comm.size, batchSize: batchSize, learningRate: learningRate)
            if autoLayout { c = try AutoLayout.choose(c, world: comm, progress: printError) }
            let trainer: ParallelTrainer
            if let sources {
                trainer = try ParallelTrainer(
                    configuration: c, communicator: comm, train: sources.train, test: sources.test,
                    supervision: launched.supervision, progress: printError)
            } else {
                trainer = try ParallelTrainer(
                    configuration: c, communicator: comm, train: data!.train, test: data!.test,
                    supervision: launched.supervision, progress: printError)
            }
            if let plotPath, comm.rank == 0 {
                trainer.afterEvaluation = { Train.redraw(plotPath, from: metricsPath) }
            }
            return try trainer.run()
        }
        guard let result else { return }
        if result.stopped != nil {
            printError("to continue, run the same command with --resume auto: \(resumeCommand)")
            throw ExitCode(ExitStatus.stopped)
        }
        report(result, model: model)
    }

    /// `train --plot`: the picture of the run's curves so far. A failure is a warning: the run goes on.
    private static func redraw(_ picture: String, from metrics: String) {
        do {
            let curves = try TrainingCurves(metrics: metrics, allowingNoSteps: true)
            guard !curves.windows.isEmpty else { return }  // nothing logged yet (--log-every above the epoch)
            try TrainingCurves.plot([curves], axis: .step, output: picture)
        } catch {
            printError("warning: --plot: \(error)")
        }
    }

    /// This command line with `--resume auto` in place of any `--resume`.
    private var resumeCommand: String {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if let i = arguments.firstIndex(of: "--resume") {
            arguments.removeSubrange(i..<min(i + 2, arguments.count))
        }
        arguments.removeAll { $0.hasPrefix("--resume=") }
        return (["alexnet-dist"] + arguments + ["--resume", "auto"]).joined(separator: " ")
    }

    private func report(_ result: TrainingResult, model: AlexNet) {
        print(
            String(
                format:
                    "%@: %d steps in %@; test top-1 accuracy %.2f%% (error %.2f%%), top-5 error %.2f%%, loss %.4f; peak memory %.0f MiB (rank 0's process)",
                model.name, result.steps, formatDuration(result.seconds), result.test.top1Accuracy * 100,
                result.test.top1Error * 100, result.test.top5Error * 100, result.test.meanLoss,
                Double(peakResidentBytes()) / 1_048_576))
    }
}

/// The watchdog, the stop signals and the replica check: `--collective-timeout`, `--stop-signals`,
/// `--replica-check-every`, and the hidden fault injections that test them.
struct GuardOptions: ParsableArguments {
    @Option(
        help:
            "Seconds a rank may wait in one collective before the job is aborted, naming the ranks that have not arrived (a warning at half of it, at most 60 s; 3× for the first step, evaluation and checkpoints)."
    )
    var collectiveTimeout: Double = CollectiveWatchdog.Settings.defaultTimeout
    @Option(
        help:
            "Signals that stop the run after the current step with a checkpoint (exit status 75; a second INT exits at once): names from TERM, INT, USR1, USR2, HUP, comma-separated."
    )
    var stopSignals: SignalList = SignalList(argument: "TERM,INT,USR1")!
    @Option(help: "Steps between comparisons of the ranks' replicated layers (also before every checkpoint).")
    var replicaCheckEvery: Int = 100
    @Option(help: .hidden) var injectStall: String?
    @Option(help: .hidden) var injectReplicaDivergence: String?

    func validate() throws {
        guard collectiveTimeout >= 1, collectiveTimeout.isFinite else {
            throw ValidationError("--collective-timeout must be at least 1 second, got \(collectiveTimeout)")
        }
        guard replicaCheckEvery >= 1 else {
            throw ValidationError("--replica-check-every must be at least 1, got \(replicaCheckEvery)")
        }
        var c = ParallelTrainingConfiguration(training: TrainingConfiguration(model: .small))
        try apply(to: &c)
    }

    var watchdog: CollectiveWatchdog.Settings { CollectiveWatchdog.Settings(timeout: collectiveTimeout) }

    func apply(to c: inout ParallelTrainingConfiguration) throws {
        c.replicaCheckEvery = replicaCheckEvery
        c.faults.stall = try injectStall.map { try Self.rankAndStep($0, "--inject-stall") }
        c.faults.replicaDivergence = try injectReplicaDivergence.map {
            try Self.rankAndStep($0, "--inject-replica-divergence")
        }
    }

    /// `RANK@STEP`.
    private static func rankAndStep(_ text: String, _ flag: String) throws -> (rank: Int, step: Int) {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, let rank = Int(parts[0]), let step = Int(parts[1]), rank >= 0, step >= 1 else {
            throw ValidationError("\(flag): expected RANK@STEP (a rank ≥ 0 and a step ≥ 1), got '\(text)'")
        }
        return (rank, step)
    }
}

/// A comma-separated list of signal names (`TERM,INT,USR1`), or `none`.
struct SignalList: ExpressibleByArgument {
    let values: [String]
    init?(argument: String) {
        if argument == "none" {
            values = []
            return
        }
        let names = argument.split(separator: ",", omittingEmptySubsequences: false).map {
            String($0.uppercased().trimmingPrefix("SIG"))
        }
        guard !names.isEmpty, names.allSatisfy({ StopRequest.signalNumbers[$0] != nil }) else { return nil }
        values = names
    }
    var defaultValueDescription: String { values.joined(separator: ",") }
}
