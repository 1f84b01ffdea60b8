import Collectives
import Compute
import Datasets
import Foundation
import Timing

/// The trainer: one rank of a run across K ranks, on any `Communicator` — MPI processes under `mpirun`,
/// threads of one process (`train --simulate K`), or a single rank (plain `train`), with the same code and
/// bit-identical results for the same K.
///
/// The lifecycle is the same for every plan: set-up (the plan, the rank's part of the model drawn from the
/// seed, a resumed checkpoint re-sharded for this K), the epoch loop (`TrainingLoop`), checkpoints, evaluation
/// and the final model, written by rank 0. What a step does is the plan's `StepSchedule`: data parallelism
/// (every layer replicated; one rank is this case) or hybrid (schemes a/b/c).
///
/// Data: every step takes the next K·B examples of the epoch's seeded order; rank r takes the r-th block of
/// B. So the ranks' shards are disjoint, reshuffled each epoch, and together exactly one process's batch of
/// K·B; dropout masks are drawn by the example's index in that batch. Epochs have ⌊examples / K·B⌋ steps on
/// every rank (no rank waits for another's tail). Evaluation splits the test set into K contiguous shards.
public final class ParallelTrainer {
    public let configuration: ParallelTrainingConfiguration
    public let plan: ParallelPlan
    /// What this rank sends, by `ParallelPlan.Channel` (Note [bytes sent]); `measuredTraffic` keeps the
    /// training steps' share.
    public let traffic = TrafficMeter()
    /// Bytes sent in the training steps so far (not evaluation or checkpoints), by channel, and their count.
    public private(set) var measuredTraffic: [String: TrafficMeter.Counts] = [:]
    public private(set) var measuredSteps = 0
    /// This rank's spans (layers, collectives, codecs, waits), kept while `timeline.isRecording`: the
    /// material of `StepPhases` and of Chrome traces. Off by default.
    public let timeline = Timeline()
    /// This rank's training batches, made ahead (Note [prefetching]).
    private lazy var loader = BatchPrefetcher(sampler: loop.samplers.train, depth: loop.samplers.train.prefetch)
    let model: RankModel
    let schedule: StepSchedule
    let loop: TrainingLoop
    let start: TrainingPosition
    /// The checkpoint the run continues from, if any.
    let resumedFrom: String?
    let metrics: MetricsLog
    /// Rank 0's TensorBoard log (`tensorBoardPath`), and what it measured over the steps of the window
    /// being logged.
    let tensorBoard: TensorBoardLog?
    var window = StepWindowFigures()
    /// Called on rank 0 after each evaluation has been recorded (`train --plot` redraws its picture).
    public var afterEvaluation: (() -> Void)?
    let progress: (String) -> Void
    let supervision: Supervision

    /// This rank's parameters (the FC layers' row shards under hybrid).
    public var arena: ParameterArena { model.arena }
    public var optimizer: SGD { model.optimizer }
    var ranks: Int { plan.ranks }
    var rank: Int { plan.rank }

    /// Every rank builds its trainer with the same configuration and data (a collective: it splits the
    /// communicator).
    /// - Parameters:
    ///   - communicator: the ranks of the run (one rank: single-process training).
    ///   - supervision: the rank's watchdog status and stop request (`Launch` gives each rank its own).
    ///   - progress: receives rank 0's progress lines (every rank's with `verboseRanks`, prefixed).
    public convenience init(
        configuration: ParallelTrainingConfiguration, communicator: Communicator, train: LabeledImages,
        test: LabeledImages, supervision: Supervision = Supervision(), progress: @escaping (String) -> Void = { _ in }
    ) throws {
        // Checked before the samplers split off the validation tail and measure the normalisation.
        let c = configuration.training
        let unit = Normalization(
            mean: Array(repeating: 0, count: train.imageShape[0]), std: Array(repeating: 1, count: train.imageShape[0]))
        let testUnit = Normalization(
            mean: Array(repeating: 0, count: test.imageShape[0]), std: Array(repeating: 1, count: test.imageShape[0]))
        try c.validate(
            train: ImageExamples(images: train, normalization: unit),
            test: ImageExamples(images: test, normalization: testUnit),
            globalBatch: communicator.size * c.batchSize)
        try self.init(
            configuration: configuration, communicator: communicator,
            samplers: TrainingSamplers(c, train: train, test: test),
            supervision: supervision, progress: progress)
    }

    /// Every rank builds its trainer over examples that bring their own normalisation (prepared shards).
    public convenience init(
        configuration: ParallelTrainingConfiguration, communicator: Communicator, train: any ExampleSource,
        test: any ExampleSource, supervision: Supervision = Supervision(),
        progress: @escaping (String) -> Void = { _ in }
    ) throws {
        let c = configuration.training
        try c.validate(train: train, test: test, globalBatch: communicator.size * c.batchSize)
        try self.init(
            configuration: configuration, communicator: communicator,
            samplers: TrainingSamplers(c, train: train, test: test),
            supervision: supervision, progress: progress)
    }

    private init(
        configuration: ParallelTrainingConfiguration, communicator: Communicator, samplers: TrainingSamplers,
        supervision: Supervision, progress: @escaping (String) -> Void
    ) throws {
        let k = communicator.size, rank = communicator.rank
        let c = configuration.training
        try configuration.validate(ranks: k)
        plan = configuration.plan(ranks: k, rank: rank)
        self.configuration = configuration
        self.supervision = supervision
        let say: (String) -> Void =
            configuration.verboseRanks ? { progress("[rank \(rank)] \($0)") } : rank == 0 ? progress : { _ in }
        self.progress = say
        loop = TrainingLoop(
            configuration: c, samplers: samplers, examplesPerStep: k * c.batchSize)

        // The checkpoint first: one of another run is refused before the model is built and initialised
        // (seconds for `paper`).
        let resumed = try ParallelTrainer.findCheckpoint(c, progress: say)
        let channels = try TrainingChannels(splitting: communicator, plan: plan, meter: traffic, timeline: timeline)
        model = RankModel(configuration: configuration, plan: plan, channels: channels, timeline: timeline)
        switch plan.parallelism {
        case .data: schedule = DataParallelSchedule(model)
        case .hybrid: schedule = HybridSchedule(model)
        }

        start = resumed?.checkpoint.position ?? TrainingPosition()
        resumedFrom = resumed?.path
        try loop.check(start, of: resumed?.path)
        // Every rank must continue from the same step (a run directory that is not shared, say).
        let steps = try channels.world.allGatherDoubles([Double(start.step)], collective: "resume position")
        if let q = steps.indices.first(where: { steps[$0] != steps[0] }) {
            throw TrainingError(
                "rank \(rank) resumes at step \(start.step), rank \(q) at step \(Int(steps[q][0])), rank 0 at step \(Int(steps[0][0])): every rank must see the same checkpoints"
            )
        }
        if rank == 0 {
            // What writers killed while writing left behind, then whether this run can write at all.
            for path in [c.outputPath, c.metricsPath].compactMap({ $0 }) { AtomicFile.removeLeftovers(of: path) }
            if let template = c.checkpointPath { CheckpointSeries(template: template).removeLeftovers() }
            for path in [c.outputPath, c.checkpointPath].compactMap({ $0 }) { try AtomicFile.checkWritable(path) }
        }
        // Note [resuming a log]; a resume with nothing to do (run() says so) leaves the logs alone.
        let position = start, epochLoop = loop
        let idle = resumed != nil && epochLoop.nothingToDo(from: position) != nil
        let continuation =
            resumed == nil
            ? nil : LogContinuation(step: position.step, evaluatesAgain: epochLoop.evaluatesFirst(from: position))
        metrics = try MetricsLog(path: rank == 0 && !idle ? c.metricsPath : nil, continuing: continuation)
        if rank == 0, !idle, let directory = c.tensorBoardPath {
            tensorBoard = try TensorBoardLog(
                directory: directory, continuation: continuation ?? .fresh,
                factors: configuration.learningRateFactors(plan), ranks: k, notices: supervision.notices)
            // The spans the window's time phases come from (Note [TensorBoard tags]).
            timeline.isRecording = true
        } else {
            tensorBoard = nil
        }
        if let checkpoint = resumed?.checkpoint { try restore(checkpoint) }
    }

    /// The checkpoint to continue from: the file named, or the newest of the run's series that loads (a
    /// damaged one is skipped with a warning; one of another configuration is an error); nil for a fresh
    /// start.
    static func findCheckpoint(
        _ c: TrainingConfiguration, progress: (String) -> Void
    ) throws -> (path: String, checkpoint: Checkpoint.Loaded)? {
        switch c.resume {
        case nil: return nil
        case .file(let path): return (path, try Checkpoint.load(path, for: c))
        case .newest:
            guard let template = c.checkpointPath else {
                throw TrainingError("--resume auto needs the run's checkpoints: --checkpoint-every is 0")
            }
            let series = CheckpointSeries(template: template)
            for file in series.existing() {
                do {
                    return (file.path, try Checkpoint.load(file.path, for: c))
                } catch let error as ModelFile.LoadError where error.belongsToAnotherRun {
                    // A sound checkpoint of another configuration: resuming an older one or starting afresh
                    // would silently train something else.
                    throw error
                } catch {
                    progress("warning: skipping checkpoint \(file.path): \(error)")
                }
            }
            progress(
                "--resume auto: no checkpoint \(series.path(step: 0).replacingOccurrences(of: "-step0.", with: "-step<N>.")) to resume, starting from the beginning"
            )
            return nil
        }
    }

    /// Steps per epoch: whole global batches of K·B only.
    public var stepsPerEpoch: Int { loop.stepsPerEpoch }

    /// Trains every epoch (or `maxSteps`), evaluating as configured, and writes the gathered model (rank 0).
    public func run() throws -> TrainingResult {
        let c = configuration.training
        if let reason = loop.nothingToDo(from: start) { throw RunEnded.nothingToDo(reason) }
        let reporter = TrainingProgress(
            totalSteps: loop.totalSteps(from: start), imagesPerStep: ranks * c.batchSize, logEvery: c.logEvery,
            metrics: metrics, extraFields: ["ranks": ranks, "steps_per_epoch": stepsPerEpoch], output: progress)
        for line in startLines { progress(line) }
        var planRecord = plan.metricsRecord(step: start.step)
        if let choice = configuration.layoutChoice {
            planRecord["chosen_by"] = "auto"
            planRecord["predicted_step_seconds"] = choice.predictedStepSeconds
            planRecord["predicted_bytes_per_rank"] = choice.predictedBytesPerRank
            planRecord["reason"] = choice.reason
        }
        try metrics.record(planRecord)
        if let tensorBoard {
            reporter.windowObserver = { [unowned self] in
                try tensorBoard.window($0, self.window)
                self.window = StepWindowFigures()
            }
        }
        reporter.evaluationObserver = { [unowned self] split, step, result in
            try self.tensorBoard?.evaluation(split, step: step, result)
            // Once per evaluation: the test split comes last.
            if split == "test" { self.afterEvaluation?() }
        }
        let status = supervision.status
        let result = try loop.run(progress: reporter, from: start) { examples, epoch, step, rate, upcoming in
            try self.step(examples: examples, epoch: epoch, step: step, rate: rate, upcoming: upcoming)
        } evaluate: {
            status?.set(phase: .evaluating)
            return try schedule.evaluate($0)
        } checkpoint: { position in
            guard let template = c.checkpointPath else { return }
            status?.set(phase: .checkpointing)
            try checkReplicas(step: position.step)
            let series = CheckpointSeries(template: template)
            let path = series.path(step: position.step)
            try saveCheckpoint(path, position: position)
            if rank == 0 {
                lastCheckpoint = path
                for removed in series.prune(written: position.step, keep: c.keepCheckpoints) {
                    progress("removed \(removed) (--keep-checkpoints \(c.keepCheckpoints))")
                }
            }
        }
        status?.set(phase: .finishing)
        if let stop = result.stopped {
            progress(stopLine(stop, at: result.position))
            // The stop itself must not fail on the log: the checkpoint is written.
            try? tensorBoard?.event("stop", stopLine(stop, at: result.position), step: result.position.step)
            return result
        }
        if let path = c.outputPath {
            let whole = try model.gatherModel()
            if rank == 0 {
                try ModelFile.save(
                    path, model: c.model, groups: c.groups, arena: whole, normalization: loop.samplers.normalization,
                    classNames: c.classNames,
                    extra: ["step": String(result.steps), "epoch": String(result.epochs), "seed": String(c.seed)]
                        .merging(rankMetadata) { a, _ in a })
                progress("model written to \(path)")
            }
        }
        if ranks > 1, let report = trafficReport {
            progress("bytes sent per step, measured over \(measuredSteps) steps (plan: fp32 arithmetic):")
            for line in report.table { progress(line) }
            // Rank 0's figures, for reports.
            var fields: [String: Any] = ["event": "traffic", "rank": rank, "steps": measuredSteps]
            for channel in ParallelPlan.Channel.allCases.map(\.rawValue) {
                fields["\(channel)_planned_bytes"] = report.plannedBytes[channel]
                fields["\(channel)_fp32_bytes"] = report.fp32Bytes[channel]
                fields["\(channel)_encoded_bytes"] = report.encodedBytes[channel]
            }
            try metrics.record(fields)
        }
        return result
    }

    /// The newest checkpoint this run wrote (rank 0).
    public private(set) var lastCheckpoint: String?

    /// What rank 0 says when the run stops on a signal.
    private func stopLine(_ reason: String, at position: TrainingPosition) -> String {
        let written =
            lastCheckpoint.map { "checkpoint \($0) written" }
            ?? "no checkpoint written (--checkpoint-every 0)"
        return "stopped (\(reason)) after step \(position.step): \(written)"
    }

    /// What the run says before its first step.
    private var startLines: [String] {
        let c = configuration.training, total = loop.totalSteps(from: start)
        var lines: [String]
        if ranks == 1 {
            lines = [
                "training \(c.model.name) (\(arena.parameterCount) parameters) on \(loop.samplers.train.count) examples: \(stepsPerEpoch) steps per epoch of \(c.batchSize), \(total) steps, \(ComputeEngine.threadCount) threads"
            ]
        } else {
            let factors = configuration.learningRateFactors(plan)
            lines =
                plan.summary + [
                    "training \(c.model.name) on \(loop.samplers.train.count) examples across \(ranks) ranks: \(stepsPerEpoch) steps per epoch of \(ranks) × \(c.batchSize), \(total) steps; learning rate × \(factors.convolutional) (conv), × \(factors.fullyConnected) (FC)"
                ]
        }
        if let path = resumedFrom {
            lines.append("resuming from \(path) at step \(start.step) (epoch \(start.epoch + 1))")
        }
        return lines
    }

    /// Metadata of the files a run of several ranks writes. A one-rank run writes what single-process
    /// training always wrote (files from before the one trainer carry no rank count).
    /// The layout, in model files and checkpoints: K when more than one rank wrote it, G when the FC layers
    /// were sharded within groups (1 < G < K; G = K and G = 1 write what they always did), and, when
    /// `--parallel auto` chose it, that and the predicted step.
    var rankMetadata: [String: String] {
        var metadata = ranks > 1 ? ["ranks": String(ranks)] : [:]
        if plan.groupSize > 1 && plan.groupSize < ranks { metadata["fc_group_size"] = String(plan.groupSize) }
        if let choice = configuration.layoutChoice {
            metadata["layout_chosen_by"] = "auto"
            metadata["layout_predicted_step_seconds"] = String(format: "%.6g", choice.predictedStepSeconds)
        }
        return metadata
    }

    /// The bytes this rank sent per training step so far, measured, beside the plan (nil before a step).
    public var trafficReport: TrafficReport? {
        measuredSteps > 0 ? TrafficReport(plan: plan, measured: measuredTraffic, steps: measuredSteps) : nil
    }

    /// The whole model (FC shards gathered) on every rank, laid out as `model.makeArena()`; under data
    /// parallelism the rank's own arena. A collective.
    public func gatherModel() throws -> ParameterArena { try model.gatherModel() }

    // MARK: - One step

    /// One training step on the step's K·B examples (indices into the training data, in batch order: rank r
    /// takes the r-th block of B) at base learning rate `rate` (scaled per `learningRateFactors`). Returns
    /// the mean loss over the K·B examples and whether the ranks agreed to stop, the same on every rank.
    /// Throws `RunEnded` when the loss or an updated weight is not finite (Note [the non-finite guard]) or
    /// the replicas differ (Note [replica check]). A collective. `upcoming` names the next steps' examples:
    /// this rank's blocks of them are made ahead while the step computes (Note [prefetching]).
    public func step(
        examples: ArraySlice<Int>, epoch: Int, step: Int, rate: Float, upcoming: [TrainingLoop.Batch] = []
    ) throws
        -> TrainingLoop.StepOutcome
    {
        supervision.status?.set(step: step, phase: step == start.step ? .starting : .training)
        if let stall = configuration.faults.stall, stall.rank == rank, stall.step == step + 1 {
            progress("injected fault: rank \(rank) stalls at step \(step + 1)")
            while true { Thread.sleep(forTimeInterval: 3600) }
        }
        let b = configuration.training.batchSize
        precondition(
            examples.count == ranks * b,
            "ParallelTrainer.step: \(examples.count) examples, expected K·B = \(ranks) × \(b)")
        let network = model.network
        func mine(_ examples: ArraySlice<Int>, epoch: Int) -> BatchPrefetcher.Request {
            let first = examples.startIndex + rank * b
            return BatchPrefetcher.Request(examples[first..<(first + b)], epoch: epoch, use: .training)
        }
        let labels = try [Int32](unsafeUninitializedCapacity: b) { l, count in
            try loader.fill(mine(examples, epoch: epoch), images: network.input.floats, labels: l)
            count = b
        }
        loader.prefetch(upcoming.map { mine($0.examples, epoch: $0.epoch) })
        let factors = configuration.learningRateFactors(plan)
        let before = traffic.snapshot
        // The step's time phases (TensorBoard's time/*) start here: after its batch was fetched.
        let stepStart = monotonicSeconds()
        tensorBoard?.stepStarted(step + 1)
        model.optimizer.resetFiniteCheck()
        let share = try schedule.step(
            labels: labels, step: step, rates: (rate * factors.convolutional, rate * factors.fullyConnected))
        let faults = configuration.faults
        for (fault, first) in [
            (faults.replicaDivergence, model.convolutionalRange.lowerBound),
            (faults.shardDivergence, model.fullyConnectedRange.lowerBound),
        ] where fault?.rank == rank && fault?.step == step + 1 {
            arena.values[first] = arena.values[first].nextUp
        }
        let outcome = try agree(afterStep: step, lossShare: share)
        let sent = TrafficMeter.difference(traffic.snapshot, before)
        for (channel, counts) in sent {
            measuredTraffic[channel, default: TrafficMeter.Counts()] =
                measuredTraffic[channel, default: .init()] + counts
        }
        measuredSteps += 1
        if tensorBoard != nil {
            let gradientChannels = [ParallelPlan.Channel.gradients, .shardGradients]
            window.add(
                StepPhases(spans: timeline.drain(), from: stepStart, to: monotonicSeconds()),
                bytesSent: sent.values.reduce(0) { $0 + $1.total },
                gradientBytes: gradientChannels.reduce(0) { $0 + (sent[$1.rawValue]?.total ?? 0) },
                plannedGradientBytes: gradientChannels.reduce(0) { $0 + plan.bytesSentPerStep(on: $1) })
        }
        if ranks > 1, (step + 1) % configuration.replicaCheckEvery == 0 { try checkReplicas(step: step + 1) }
        return outcome
    }

    /// The model's figures on every example of `sampler` (a collective; every rank the same figures).
    public func evaluate(_ sampler: BatchSampler) throws -> EvaluationResult { try schedule.evaluate(sampler) }
}
