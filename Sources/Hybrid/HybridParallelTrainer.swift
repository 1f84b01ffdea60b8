import Collectives
import Compute
import Datasets
import Foundation
import Training

/// One rank of a training run across K ranks, on any `Communicator`: MPI processes under `mpirun`, or threads
/// of one process (`train --simulate K`), with the same code and bit-identical results.
///
/// Hybrid (Krizhevsky 2014): every rank runs the replicated conv stage on its own B examples; the FC stage is
/// sharded by output neurons (`ShardedClassifier`) and runs on every rank's examples, fed by scheme
/// (a) one all-gather of all K·B examples, (b) K rounds in which one rank's B examples go to all, or (c) K
/// rounds in which every rank contributes B/K. The partial gradients with respect to the features are
/// summed onto the examples' owners, which back-propagate through their conv stage while the conv
/// gradients are allreduced bucket by bucket (`GradientBuckets`). Data (`--parallel data`, the Horovod/DDP
/// baseline): every layer replicated, the whole gradient allreduced.
///
/// Data: every step takes the next K·B examples of the epoch's seeded order; rank r takes the r-th block of
/// B. So the ranks' shards are disjoint, reshuffled each epoch, and together exactly one process's batch of
/// K·B; dropout masks are drawn by the example's index in that batch. Epochs have ⌊examples / K·B⌋ steps on
/// every rank (no rank waits for another's tail). Evaluation splits the test set into K contiguous shards.
///
/// Rounding: with the FC layers updated once per step and no learning-rate scaling, a step is the
/// single-process step on K·B examples up to the order of float additions (conv gradients summed per rank
/// then across ranks; FC shard GEMMs blocked for fewer rows).
public final class HybridParallelTrainer {
    public let configuration: ParallelTrainingConfiguration
    public let plan: ParallelPlan
    public let arena: ParameterArena
    public let optimizer: SGD
    /// What this rank sends, by `ParallelPlan.Channel` (Note [bytes sent]); `measuredTraffic` keeps the
    /// training steps' share.
    public let traffic = TrafficMeter()
    /// Bytes sent in the training steps so far (not evaluation or checkpoints), by channel, and their count.
    public private(set) var measuredTraffic: [String: TrafficMeter.Counts] = [:]
    public private(set) var measuredSteps = 0
    /// This rank's spans (layers, collectives, codecs, waits), kept while `timeline.isRecording`: the
    /// material of `StepPhases` and of Chrome traces. Off by default.
    public let timeline = Timeline()
    private let world: Communicator
    private let exchange: Communicator
    private let buckets: GradientBuckets
    private let exchangeWorker: SerialWorker?
    private let loop: TrainingLoop
    private let start: TrainingPosition
    private let metrics: MetricsLog
    private let progress: (String) -> Void
    /// Hybrid: the conv stage for B examples; data: the whole network.
    private let network: Network
    private var evaluationNetworks: [Int: Network] = [:]
    private var classifiers: [Int: ShardedClassifier] = [:]
    private let convolutionalRange: Range<Int>
    /// The parameters whose gradients are allreduced (conv; data: every layer), in arena order.
    private let synchronisedViews: [ParameterView]
    private let fullyConnectedRange: Range<Int>
    private var fullyConnectedSum: UnsafeMutableBufferPointer<Float>

    private var ranks: Int { plan.ranks }
    private var rank: Int { plan.rank }
    private var batch: Int { configuration.training.batchSize }

    /// Every rank builds its trainer with the same configuration and data (a collective: it splits the
    /// communicator).
    /// - Parameters:
    ///   - communicator: the ranks of the run.
    ///   - progress: receives rank 0's progress lines (every rank's with `verboseRanks`, prefixed).
    public init(
        configuration: ParallelTrainingConfiguration, communicator: Communicator, train: LabeledImages,
        test: LabeledImages, progress: @escaping (String) -> Void = { _ in }
    ) throws {
        let c = configuration.training
        let k = communicator.size
        plan = configuration.plan(ranks: k, rank: communicator.rank)
        if configuration.parallelism == .hybrid {
            let narrowest = plan.fullyConnected.min { $0.outputs < $1.outputs }!
            guard k <= narrowest.outputs else {
                throw TrainingError(
                    "\(k) ranks cannot share \(narrowest.name)'s \(narrowest.outputs) outputs: hybrid parallelism needs at most \(narrowest.outputs) ranks for \(c.model.name) (or use --parallel data)"
                )
            }
            if configuration.scheme == .c {
                guard c.batchSize >= k else {
                    throw TrainingError(
                        "scheme (c) splits each rank's batch into \(k) parts: --batch-size \(c.batchSize) must be at least the \(k) ranks"
                    )
                }
            }
        }
        try Trainer.validate(c, train: train, test: test, globalBatch: k * c.batchSize)
        self.configuration = configuration
        // Metered, so the bytes each step sends are measured, beside the plan's arithmetic.
        // (Data parallelism's only other traffic, the loss sum, is counted with the gradients' control messages.)
        let timeline = self.timeline
        self.world = MeteredCommunicator(
            wrapping: communicator, meter: traffic,
            channel: (configuration.parallelism == .hybrid ? ParallelPlan.Channel.classifier : .gradients).rawValue,
            timeline: timeline)
        let rank = communicator.rank
        if configuration.verboseRanks {
            self.progress = { progress("[rank \(rank)] \($0)") }
        } else {
            self.progress = rank == 0 ? progress : { _ in }
        }

        loop = TrainingLoop(
            configuration: c, samplers: TrainingSamplers(c, train: train, test: test), examplesPerStep: k * c.batchSize)

        // Every rank draws the whole model from the seed (as one process would) and keeps its part.
        arena = ParameterArena(layout: plan.parameterLayout)
        let whole = c.model.makeArena()
        c.initialization.apply(to: whole, model: c.model, seed: c.seed)
        plan.extract(UnsafeBufferPointer(whole.values), layout: whole, into: arena.values, layout: arena)
        let optimizer = SGD(arena: arena, momentum: c.momentum, weightDecay: c.weightDecay)
        self.optimizer = optimizer
        let resumed = try c.resumePath.map { try Checkpoint.load($0, for: c) }
        if let checkpoint = resumed {
            // Whatever number of ranks wrote it: the checkpoint holds the whole model; each rank keeps its part.
            let whole = checkpoint.model.arena, plan = plan, arena = arena
            plan.extract(UnsafeBufferPointer(whole.values), layout: whole, into: arena.values, layout: arena)
            checkpoint.velocity.withUnsafeBufferPointer {
                plan.extract($0, layout: whole, into: optimizer.velocity, layout: arena)
            }
            start = checkpoint.position
        } else {
            start = TrainingPosition()
        }

        let convLayers = Set(c.model.features.map(\.name))
        let convViews = arena.views.filter { convLayers.contains($0.layer) }
        convolutionalRange = arena.range(of: convViews)
        fullyConnectedRange = arena.range(of: arena.views.filter { !convLayers.contains($0.layer) })
        let hybrid = configuration.parallelism == .hybrid
        synchronisedViews = hybrid ? convViews : arena.views
        network = Network(
            model: c.model, arena: arena, batch: c.batchSize, seed: c.seed, includesClassifier: !hybrid)
        network.firstExample = communicator.rank * c.batchSize
        network.layerObserver = { [convLayers] layer, backward, start, end in
            guard timeline.isRecording else { return }
            let stage = convLayers.contains(layer.name) ? StepPhases.convStage : StepPhases.fullyConnectedStage
            timeline.add(
                "\(stage)\(layer.name) \(backward ? "backward" : "forward")", .compute, start: start, end: end)
        }
        fullyConnectedSum = .allocate(capacity: fullyConnectedRange.count)

        // Gradient buckets and the feature exchange each get a communicator of their own, so that their
        // collectives can run on transfer threads while this thread runs the FC stack's.
        let gradients = MeteredCommunicator(
            wrapping: try communicator.split(color: 0, key: rank), meter: traffic, channel: "gradients",
            timeline: timeline)
        exchange = MeteredCommunicator(
            wrapping: try communicator.split(color: 1, key: rank), meter: traffic, channel: "features",
            timeline: timeline)
        buckets = GradientBuckets(
            arena: arena, views: hybrid ? convViews : arena.views, bucketElements: configuration.bucketElements,
            communicator: gradients, codec: configuration.codec, overlap: configuration.overlap, timeline: timeline)
        exchangeWorker = configuration.overlap && hybrid ? SerialWorker(name: "exchange") : nil

        if communicator.rank == 0 {
            for path in [c.outputPath, c.checkpointPath].compactMap({ $0 }) { try AtomicFile.checkWritable(path) }
        }
        metrics = try MetricsLog(path: communicator.rank == 0 ? c.metricsPath : nil)
        if let checkpoint = resumed, checkpoint.residualRanks > 0 {
            if configuration.codec.hasErrorFeedback {
                try restoreResiduals(checkpoint)
            } else {
                progress(
                    "the checkpoint's top-k residuals are dropped: codec \(configuration.codec) has no error feedback")
            }
        }
    }

    deinit { fullyConnectedSum.deallocate() }

    /// Steps per epoch: whole global batches of K·B only.
    public var stepsPerEpoch: Int { loop.stepsPerEpoch }

    /// Trains every epoch (or `maxSteps`), evaluating as configured, and writes the gathered model (rank 0).
    public func run() throws -> TrainingResult {
        let c = configuration.training
        let factors = configuration.learningRateFactors(ranks: ranks)
        let samplers = loop.samplers
        let reporter = TrainingProgress(
            totalSteps: loop.totalSteps(from: start), imagesPerStep: ranks * batch, logEvery: c.logEvery,
            metrics: metrics,
            extraFields: ["ranks": ranks], output: progress)
        for line in plan.summary { progress(line) }
        progress(
            "training \(c.model.name) on \(samplers.train.data.count) examples across \(ranks) ranks: \(stepsPerEpoch) steps per epoch of \(ranks) × \(batch), \(loop.totalSteps(from: start)) steps; codec \(configuration.codec); learning rate × \(factors.convolutional) (conv), × \(factors.fullyConnected) (FC)\(configuration.parallelism == .hybrid ? ", FC updated per \(configuration.fullyConnectedUpdate.rawValue)" : "")"
        )
        if let path = c.resumePath {
            progress("resuming from \(path) at step \(start.step) (epoch \(start.epoch + 1))")
        }
        let result = try loop.run(progress: reporter, from: start) { examples, epoch, step, rate in
            try self.step(examples: examples, epoch: epoch, step: step, rate: rate)
        } evaluate: {
            try evaluate($0)
        } checkpoint: { position in
            guard let path = c.checkpointPath else { return }
            try saveCheckpoint(path, position: position)
        }
        if let path = c.outputPath {
            let whole = try gatherModel()
            if rank == 0 {
                try ModelFile.save(
                    path, model: c.model, groups: c.groups, arena: whole, normalization: samplers.normalization,
                    classNames: c.classNames,
                    extra: [
                        "step": String(result.steps), "epoch": String(result.epochs), "seed": String(c.seed),
                        "ranks": String(ranks),
                    ])
                progress("model written to \(path)")
            }
        }
        if let report = trafficReport {
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

    /// The bytes this rank sent per training step so far, measured, beside the plan (nil before a step).
    public var trafficReport: TrafficReport? {
        measuredSteps > 0 ? TrafficReport(plan: plan, measured: measuredTraffic, steps: measuredSteps) : nil
    }

    /// Gathers the whole model and momentum (a collective) and writes them from rank 0.
    private func saveCheckpoint(_ path: String, position: TrainingPosition) throws {
        let c = configuration.training
        let whole = try gatherModel()
        var velocity = [Float](repeating: 0, count: whole.count)
        try velocity.withUnsafeMutableBufferPointer {
            try plan.assemble(
                UnsafeBufferPointer(optimizer.velocity), layout: arena, into: $0, layout: whole, communicator: world)
        }
        let residuals = configuration.codec.hasErrorFeedback ? try gatherResiduals() : []
        defer { for buffer in residuals { buffer.deallocate() } }
        guard rank == 0 else { return }
        let range = ParameterArena.range(of: synchronisedViews)
        let tensors = residuals.enumerated().flatMap { q, buffer in
            synchronisedViews.map { view in
                SafeTensors.Entry(
                    name: Checkpoint.residualName(rank: q, parameter: view.name), shape: view.shape,
                    values: UnsafeBufferPointer(
                        rebasing: buffer[(view.offset - range.lowerBound)...].prefix(view.count)))
            }
        }
        try velocity.withUnsafeBufferPointer {
            try Checkpoint.save(
                path, model: c.model, groups: c.groups, arena: whole, velocity: $0,
                normalization: loop.samplers.normalization, classNames: c.classNames, position: position, seed: c.seed,
                extra: ["ranks": String(ranks)], residuals: residuals.isEmpty ? nil : (ranks, tensors))
        }
    }

    /// Every rank's error-feedback residuals over the synchronised parameters' arena range, on rank 0 (one
    /// buffer per rank, to deallocate); the other ranks get none. A collective.
    private func gatherResiduals() throws -> [UnsafeMutableBufferPointer<Float>] {
        let range = ParameterArena.range(of: synchronisedViews), n = range.count
        let mine = UnsafeMutableBufferPointer<Float>.allocate(capacity: arena.count)
        defer { mine.deallocate() }
        mine.initialize(repeating: 0)
        buckets.residuals(into: mine)
        let gathered = (0..<(rank == 0 ? ranks : 0)).map { _ in
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
            buffer.initialize(repeating: 0)
            return buffer
        }
        do {
            // Rank q's residuals to rank 0 alone: an all-to-all in which only q → 0 is not empty.
            for q in 0..<ranks {
                try world.allToAll(
                    rank == q ? UnsafeBufferPointer(rebasing: mine[range]) : UnsafeBufferPointer(start: nil, count: 0),
                    sendCounts: (0..<ranks).map { rank == q && $0 == 0 ? n : 0 },
                    into: rank == 0 ? gathered[q] : UnsafeMutableBufferPointer(start: nil, count: 0),
                    receiveCounts: (0..<ranks).map { rank == 0 && $0 == q ? n : 0 })
            }
        } catch {
            for buffer in gathered { buffer.deallocate() }
            throw error
        }
        return gathered
    }

    /// Sets this rank's error-feedback residuals from a checkpoint: each rank its own when the checkpoint
    /// was written by as many ranks; otherwise rank 0 carries their sum (in rank order) and the others none,
    /// so the gradient mass not yet sent is kept whole. Parameters the checkpoint holds no residual for
    /// (a hybrid checkpoint's FC layers resumed with `--parallel data`) start from zero; residuals of
    /// parameters this run does not allreduce (data → hybrid: the FC layers) are dropped, and said so.
    private func restoreResiduals(_ checkpoint: Checkpoint.Loaded) throws {
        let saved = checkpoint.residualRanks
        let sources = saved == ranks ? [rank] : rank == 0 ? Array(0..<saved) : []
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: arena.count)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: 0)
        var part = [Float]()
        for view in synchronisedViews where checkpoint.residualParameters.contains(view.name) {
            let target = UnsafeMutableBufferPointer(rebasing: buffer[view.range])
            for (i, q) in sources.enumerated() {
                part = [Float](repeating: 0, count: view.count)
                try part.withUnsafeMutableBufferPointer { try checkpoint.readResidual(rank: q, view: view, into: $0) }
                for j in 0..<view.count { target[j] = i == 0 ? part[j] : target[j] + part[j] }
            }
        }
        buckets.restoreResiduals(from: UnsafeBufferPointer(buffer))
        if saved != ranks {
            progress("the checkpoint's top-k residuals of \(saved) ranks are summed onto rank 0 of \(ranks)")
        }
        let dropped = checkpoint.residualParameters.subtracting(synchronisedViews.map(\.name))
        if !dropped.isEmpty {
            progress(
                "top-k residuals of \(dropped.sorted().joined(separator: ", ")) are dropped (not allreduced in this run)"
            )
        }
    }

    /// The whole model (FC shards gathered) on every rank, laid out as the single-process trainer's.
    public func gatherModel() throws -> ParameterArena {
        let whole = configuration.training.model.makeArena()
        try plan.assemble(
            UnsafeBufferPointer(arena.values), layout: arena, into: whole.values, layout: whole,
            communicator: world)
        return whole
    }

    // MARK: - One step

    /// One training step on the step's K·B examples (indices into the training data, in batch order: rank r
    /// takes the r-th block of B) at base learning rate `rate` (scaled per `learningRateFactors`). Returns
    /// the mean loss over the K·B examples, the same on every rank. A collective.
    public func step(examples: ArraySlice<Int>, epoch: Int, step: Int, rate: Float) throws -> Double {
        precondition(
            examples.count == ranks * batch,
            "HybridParallelTrainer.step: \(examples.count) examples, expected K·B = \(ranks) × \(batch)")
        let start = examples.startIndex + rank * batch
        let labels = [Int32](unsafeUninitializedCapacity: batch) { l, count in
            loop.samplers.train.fill(
                examples[start..<(start + batch)], epoch: epoch, training: true, images: network.input.floats,
                labels: l)
            count = batch
        }
        let factors = configuration.learningRateFactors(ranks: ranks)
        let before = traffic.snapshot
        let loss = try trainingStep(
            labels: labels, step: step, rates: (rate * factors.convolutional, rate * factors.fullyConnected))
        for (channel, counts) in TrafficMeter.difference(traffic.snapshot, before) {
            measuredTraffic[channel, default: TrafficMeter.Counts()] =
                measuredTraffic[channel, default: .init()] + counts
        }
        measuredSteps += 1
        return loss
    }

    /// One training step on the B examples in `network.input` with `labels`: forward, backward, gradient
    /// synchronisation and the update. Returns the mean loss over the step's K·B examples (every rank the
    /// same value).
    @discardableResult
    public func trainingStep(
        labels: [Int32], step: Int, rates: (convolutional: Float, fullyConnected: Float)
    )
        throws -> Double
    {
        switch configuration.parallelism {
        case .data: return try dataParallelStep(labels: labels, step: step, rate: rates.convolutional)
        case .hybrid: return try hybridStep(labels: labels, step: step, rates: rates)
        }
    }

    private func dataParallelStep(labels: [Int32], step: Int, rate: Float) throws -> Double {
        let logits = network.forward(training: true, step: UInt64(step))
        let (loss, gradient) = timeline.record("\(StepPhases.fullyConnectedStage)loss", .compute) {
            (
                network.loss.forward(logits: logits, labels: labels),
                network.loss.backward(scale: 1 / Float(ranks * batch))
            )
        }
        network.backward(gradient) { self.buckets.finished(layer: $0.name) }
        try timeline.record("wait gradients", .wait) { try buckets.finish() }
        timeline.record("\(StepPhases.updateStage)all", .compute) { optimizer.step(learningRate: rate) }
        return try sumOverRanks([loss])[0] / Double(ranks * batch)
    }

    /// Which of each rank's B examples the FC stack takes in each round: scheme (a) one round of everything;
    /// (b) round j takes rank j's batch; (c) round j takes segment j of every rank's batch.
    private var rounds: [[Range<Int>]] {
        let k = ranks, b = batch
        switch configuration.scheme {
        case .a:
            return [Array(repeating: 0..<b, count: k)]
        case .b:
            return (0..<k).map { j in (0..<k).map { $0 == j ? 0..<b : 0..<0 } }
        case .c:
            return (0..<k).map { j in Array(repeating: ParallelPlan.rows(b, ranks: k, rank: j), count: k) }
        }
    }

    private func hybridStep(
        labels: [Int32], step: Int, rates: (convolutional: Float, fullyConnected: Float)
    )
        throws -> Double
    {
        let k = ranks, b = batch, f = plan.model.featureWidth
        let features = network.forward(training: true, step: UInt64(step))
        let featureValues = UnsafeBufferPointer(features.floats)
        // Every rank's labels, in rank order (small; exact as floats below 2^24).
        let allLabels = try gatherLabels(labels, counts: Array(repeating: b, count: k))
        let rounds = self.rounds, buffers = roundBuffers, featureGradient = self.featureGradient
        let perRound = configuration.fullyConnectedUpdate == .subBatch && rounds.count > 1

        // Start every round's feature exchange now: later rounds travel while earlier ones compute.
        var arrivals: [Pending<Void>] = []
        for (round, buffer) in zip(rounds, buffers) {
            let mine = UnsafeBufferPointer(
                rebasing: featureValues[(round[rank].lowerBound * f)..<(round[rank].upperBound * f)])
            let counts = round.map { $0.count * f }
            let exchange = exchange, into = buffer.gathered.floats
            arrivals.append(onExchangeThread { try exchange.allGather(mine, counts: counts, into: into) })
        }
        var lossSum = 0.0
        var returns: [Pending<Void>] = []
        for (j, round) in rounds.enumerated() {
            try timeline.record("wait features \(j)", .wait) { try arrivals[j].wait() }
            let gathered = buffers[j].gathered
            let n = gathered.dims[0]
            let classifier = classifier(batch: n)
            // Each row's rank and index in that rank's batch → its index in the step's K·B examples.
            var rows: [Int] = []
            var roundLabels: [Int32] = []
            for (q, range) in round.enumerated() {
                for i in range {
                    rows.append(q * b + i)
                    roundLabels.append(allLabels[q * b + i])
                }
            }
            try timeline.record("\(StepPhases.fullyConnectedStage)round \(j) forward", .compute) {
                _ = try classifier.forward(gathered, training: true, step: UInt64(step), rows: rows)
                lossSum += classifier.lossSum(labels: roundLabels)
            }
            // Note [gradient averaging]: the FC gradient is the mean over what the update covers, the
            // features' gradient the mean over the step's K·B examples.
            let partial = try timeline.record("\(StepPhases.fullyConnectedStage)round \(j) backward", .compute) {
                try classifier.backward(scale: 1 / Float(perRound ? n : k * b)).floats
            }
            // The classifier's buffer is overwritten by the next round while this one is still being sent.
            let sent = buffers[j].partial.floats
            if perRound && n != k * b {
                let factor = Float(n) / Float(k * b)
                for i in sent.indices { sent[i] = partial[i] * factor }
            } else {
                _ = sent.update(fromContentsOf: partial)
            }
            let target = UnsafeMutableBufferPointer(
                rebasing: featureGradient.floats[(round[rank].lowerBound * f)..<(round[rank].upperBound * f)])
            let counts = round.map { $0.count * f }
            let exchange = exchange
            returns.append(
                onExchangeThread {
                    try exchange.reduceScatter(UnsafeBufferPointer(sent), counts: counts, into: target)
                })
            if perRound {
                timeline.record("\(StepPhases.updateStage)fc", .compute) {
                    optimizer.step(learningRate: rates.fullyConnected, range: fullyConnectedRange)
                }
            } else if rounds.count > 1 {
                timeline.record("\(StepPhases.fullyConnectedStage)accumulate", .compute) {
                    accumulateFullyConnectedGradients(first: j == 0)
                }
            }
        }
        try timeline.record("wait feature gradients", .wait) { for pending in returns { try pending.wait() } }
        network.backward(featureGradient) { self.buckets.finished(layer: $0.name) }
        try timeline.record("wait gradients", .wait) { try buckets.finish() }
        timeline.record("\(StepPhases.updateStage)fc", .compute) {
            if !perRound {
                if rounds.count > 1 {
                    _ = UnsafeMutableBufferPointer(rebasing: arena.gradients[fullyConnectedRange])
                        .update(fromContentsOf: fullyConnectedSum)
                }
                optimizer.step(learningRate: rates.fullyConnected, range: fullyConnectedRange)
            }
        }
        timeline.record("\(StepPhases.updateStage)conv", .compute) {
            optimizer.step(learningRate: rates.convolutional, range: convolutionalRange)
        }
        return lossSum / Double(k * b)
    }

    /// Each round's gathered features (n_j, F) and this rank's partial gradient with respect to them, (n_j, F),
    /// kept from step to step (the rounds are the same every step).
    private lazy var roundBuffers: [(gathered: Tensor, partial: Tensor)] = rounds.map { round in
        let n = round.reduce(0) { $0 + $1.count }, f = plan.model.featureWidth
        return (Tensor(plain: [n, f]), Tensor(plain: [n, f]))
    }

    /// ∂L/∂features of this rank's B examples, (B, F): every row is written by some round's reduce-scatter.
    private lazy var featureGradient = Tensor(plain: [batch, plan.model.featureWidth])

    /// Adds this round's FC gradients to the step's sum (in round order, the same on every rank).
    private func accumulateFullyConnectedGradients(first: Bool) {
        let g = UnsafeMutableBufferPointer(rebasing: arena.gradients[fullyConnectedRange])
        if first {
            _ = fullyConnectedSum.update(fromContentsOf: g)
        } else {
            for i in g.indices { fullyConnectedSum[i] += g[i] }
        }
    }

    /// Runs `work` on the exchange thread (started now, in order), or at once without overlap.
    private func onExchangeThread(_ work: @escaping () throws -> Void) -> Pending<Void> {
        if let exchangeWorker { return exchangeWorker.submit(work) }
        return Pending(Result { try work() })
    }

    private func classifier(batch n: Int) -> ShardedClassifier {
        if let existing = classifiers[n] { return existing }
        let made = ShardedClassifier(
            plan: plan, arena: arena, batch: n, communicator: world, seed: configuration.training.seed)
        classifiers[n] = made
        return made
    }

    private func gatherLabels(_ labels: [Int32], counts: [Int]) throws -> [Int32] {
        let mine = labels.map(Float.init)
        var all = [Float](repeating: 0, count: counts.reduce(0, +))
        try mine.withUnsafeBufferPointer { m in
            try all.withUnsafeMutableBufferPointer { try world.allGather(m, counts: counts, into: $0) }
        }
        return all.map { Int32($0) }
    }

    /// Each rank's `values` summed in rank order, as Doubles (every rank gets the same sums).
    private func sumOverRanks(_ values: [Double]) throws -> [Double] {
        let all = try world.allGatherDoubles(values, collective: "sumOverRanks")
        return values.indices.map { i in all.reduce(0) { $0 + $1[i] } }
    }

    // MARK: - Evaluation

    /// Sharded evaluation: rank r takes the r-th of K contiguous shards of the data set. Hybrid: in each
    /// round every rank runs its conv stage on up to B of its examples, the features and labels are
    /// all-gathered, and every rank evaluates the sharded FC stack on all of them (so every rank tallies
    /// the same rows). Data: each rank evaluates its shard; the tallies are summed.
    public func evaluate(_ sampler: BatchSampler) throws -> EvaluationResult {
        let data = sampler.data, k = ranks, b = batch
        let shardSizes = segmentCounts(data.count, parts: k)
        let first = shardSizes[..<rank].reduce(0, +)
        if configuration.parallelism == .data {
            let shard = BatchSampler(
                data: data.slice(first..<(first + shardSizes[rank])), normalization: sampler.normalization,
                shuffle: false, seed: sampler.seed)
            let tally = shardEvaluator.tally(shard)
            let sums = try sumOverRanks([
                Double(tally.examples), Double(tally.top1Correct), Double(tally.top5Correct), tally.lossSum,
            ])
            var total = EvaluationTally()
            total.examples = Int(sums[0])
            total.top1Correct = Int(sums[1])
            total.top5Correct = Int(sums[2])
            total.lossSum = sums[3]
            return total.result
        }
        var tally = EvaluationTally()
        let roundCount = (shardSizes.max()! + b - 1) / b
        let f = plan.model.featureWidth
        var labels = [Int32](repeating: 0, count: b)
        for s in 0..<roundCount {
            let counts = shardSizes.map { max(0, min(b, $0 - s * b)) }
            let mine = counts[rank]
            var features = UnsafeBufferPointer<Float>(start: nil, count: 0)
            if mine > 0 {
                let net = evaluationNetwork(batch: mine)
                let start = first + s * b
                labels.withUnsafeMutableBufferPointer { l in
                    sampler.fill(
                        start..<(start + mine), epoch: 0, training: false, images: net.input.floats,
                        labels: UnsafeMutableBufferPointer(rebasing: l[0..<mine]))
                }
                features = UnsafeBufferPointer(net.forward(training: false).floats)
            }
            let n = counts.reduce(0, +)
            let gathered = Tensor(plain: [n, f])
            try world.allGather(features, counts: counts.map { $0 * f }, into: gathered.floats)
            let allLabels = try gatherLabels(Array(labels[0..<mine]), counts: counts)
            let classifier = classifier(batch: n)
            let logits = try classifier.forward(gathered, training: false)
            tally.add(logits: logits, labels: allLabels, loss: classifier.loss)
        }
        return tally.result
    }

    /// Data parallelism: the whole model on this rank's shard, through the training network where it fits.
    private lazy var shardEvaluator: Evaluator = {
        let evaluator = Evaluator(model: plan.model, arena: arena, batchSize: batch)
        evaluator.adopt(network)
        return evaluator
    }()

    private func evaluationNetwork(batch n: Int) -> Network {
        if n == batch { return network }
        if let existing = evaluationNetworks[n] { return existing }
        let made = Network(model: plan.model, arena: arena, batch: n, seed: 0, includesClassifier: false)
        evaluationNetworks[n] = made
        return made
    }
}
