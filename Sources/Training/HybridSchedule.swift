import Collectives
import Compute
import Datasets

/// Hybrid parallelism (Krizhevsky 2014) within groups of G ranks: every rank runs the replicated conv stage
/// on its own B examples; the FC stage is sharded by output neurons over the group (`ShardedClassifier`)
/// and runs on every example of the group, fed by scheme (a) one all-gather of the group's G·B examples,
/// (b) G rounds in which one rank's B examples go to the group, or (c) G rounds in which every rank
/// contributes B/G. The partial gradients with respect to the features are summed onto the examples'
/// owners, which back-propagate through their conv stage while the conv gradients are allreduced over all K
/// ranks bucket by bucket (`GradientBuckets`); with more than one group, each FC shard's gradients are
/// summed across the groups (the ranks at its position) as soon as the FC backward has produced them.
///
/// Every round's feature all-gather is submitted to the exchange thread at the start of the step (later
/// rounds travel while earlier ones compute) and each round's reduce-scatter of feature gradients as soon
/// as the round's backward is done; the classifier's collectives run on the caller's thread.
///
/// Rounding: with the FC layers updated once per step and no learning-rate scaling, a step is the
/// single-process step on K·B examples up to the order of float additions (conv gradients summed per rank
/// then across ranks; FC shard GEMMs blocked for fewer rows).
final class HybridSchedule: StepSchedule {
    let model: RankModel
    /// The feature exchange's transfer thread (nil without overlap: collectives run inline).
    private let exchangeWorker: SerialWorker?
    /// The step's FC gradients summed over the rounds when the FC shards are updated once per step.
    private var fullyConnectedSum: UnsafeMutableBufferPointer<Float>
    private var classifiers: [Int: ShardedClassifier] = [:]
    private var evaluationNetworks: [Int: Network] = [:]

    init(_ model: RankModel) {
        self.model = model
        exchangeWorker = model.plan.overlap ? SerialWorker(name: "exchange") : nil
        fullyConnectedSum = .allocate(capacity: model.fullyConnectedRange.count)
    }

    deinit { fullyConnectedSum.deallocate() }

    /// Which of each group member's B examples the FC stack takes in each round (by position in the group):
    /// scheme (a) one round of everything; (b) round j takes member j's batch; (c) round j takes segment j of
    /// every member's batch.
    private lazy var rounds: [[Range<Int>]] = {
        let k = model.plan.groupSize, b = model.batch
        switch model.plan.scheme {
        case .a:
            return [Array(repeating: 0..<b, count: k)]
        case .b:
            return (0..<k).map { j in (0..<k).map { $0 == j ? 0..<b : 0..<0 } }
        case .c:
            return (0..<k).map { j in Array(repeating: ParallelPlan.rows(b, ranks: k, rank: j), count: k) }
        }
    }()

    /// Each round's gathered features (n_j, F) and this rank's partial gradient with respect to them, (n_j, F),
    /// kept from step to step (the rounds are the same every step).
    private lazy var roundBuffers: [(gathered: Tensor, partial: Tensor)] = rounds.map { round in
        let n = round.reduce(0) { $0 + $1.count }, f = model.plan.model.featureWidth
        return (Tensor(plain: [n, f]), Tensor(plain: [n, f]))
    }

    /// ∂L/∂features of this rank's B examples, (B, F): every row is written by some round's reduce-scatter.
    private lazy var featureGradient = Tensor(plain: [model.batch, model.plan.model.featureWidth])

    func step(labels: [Int32], step: Int, rates: (convolutional: Float, fullyConnected: Float)) throws -> Double {
        let m = model, timeline = m.timeline, arena = m.arena, optimizer = m.optimizer
        // Within the group: G members at positions 0..<G; the step's K·B examples in all.
        let position = m.plan.position, g = m.plan.groupSize, firstRank = m.plan.groupRanks.lowerBound
        let k = m.ranks, b = m.batch, f = m.plan.model.featureWidth
        let features = m.network.forward(training: true, step: UInt64(step))
        let featureValues = UnsafeBufferPointer(features.floats)
        // The group's labels, in position order (small; exact as floats below 2^24).
        let allLabels = try gatherLabels(labels, counts: Array(repeating: b, count: g))
        let rounds = self.rounds, buffers = roundBuffers, featureGradient = self.featureGradient
        let perRound = m.plan.fullyConnectedUpdate == .subBatch
        let exchange = m.channels.features

        // Start every round's feature exchange now: later rounds travel while earlier ones compute.
        var arrivals: [Pending<Void>] = []
        for (round, buffer) in zip(rounds, buffers) {
            let mine = UnsafeBufferPointer(
                rebasing: featureValues[(round[position].lowerBound * f)..<(round[position].upperBound * f)])
            let counts = round.map { $0.count * f }
            let into = buffer.gathered.floats
            arrivals.append(onExchangeThread { try exchange.allGather(mine, counts: counts, into: into) })
        }
        var lossSum = 0.0
        var returns: [Pending<Void>] = []
        for (j, round) in rounds.enumerated() {
            try timeline.record("wait features \(j)", .wait) { try arrivals[j].wait() }
            let gathered = buffers[j].gathered
            let n = gathered.dims[0]
            let classifier = classifier(batch: n)
            // Each row's member and index in that member's batch → its index in the step's K·B examples.
            var rows: [Int] = []
            var roundLabels: [Int32] = []
            for (q, range) in round.enumerated() {
                for i in range {
                    rows.append((firstRank + q) * b + i)
                    roundLabels.append(allLabels[q * b + i])
                }
            }
            try timeline.record("\(StepPhases.fullyConnectedStage)round \(j) forward", .compute) {
                _ = try classifier.forward(gathered, training: true, step: UInt64(step), rows: rows)
                lossSum += classifier.lossSum(labels: roundLabels)
            }
            // Note [gradient averaging]: the FC gradient is the mean over what the update covers (a round's n,
            // or the step's K·B examples once the groups' sums are added), the features' gradient the mean
            // over the step's K·B examples.
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
                rebasing: featureGradient.floats[(round[position].lowerBound * f)..<(round[position].upperBound * f)])
            let counts = round.map { $0.count * f }
            returns.append(
                onExchangeThread {
                    try exchange.reduceScatter(UnsafeBufferPointer(sent), counts: counts, into: target)
                })
            if perRound {
                timeline.record("\(StepPhases.updateStage)fc", .compute) {
                    optimizer.step(learningRate: rates.fullyConnected, range: m.fullyConnectedRange)
                }
            } else if rounds.count > 1 {
                timeline.record("\(StepPhases.fullyConnectedStage)accumulate", .compute) {
                    accumulateFullyConnectedGradients(first: j == 0)
                }
            }
        }
        if !perRound && rounds.count > 1 {
            _ = UnsafeMutableBufferPointer(rebasing: arena.gradients[m.fullyConnectedRange])
                .update(fromContentsOf: fullyConnectedSum)
        }
        // The shard's gradient is complete: its sum across the groups travels while the conv stage runs back.
        if let shardBuckets = m.shardBuckets {
            for view in m.shardViews.reversed() { shardBuckets.finished(layer: view.layer) }
        }
        try timeline.record("wait feature gradients", .wait) { for pending in returns { try pending.wait() } }
        m.network.backward(featureGradient) { m.buckets.finished(layer: $0.name) }
        try timeline.record("wait gradients", .wait) {
            try m.buckets.finish()
            try m.shardBuckets?.finish()
        }
        timeline.record("\(StepPhases.updateStage)fc", .compute) {
            if !perRound { optimizer.step(learningRate: rates.fullyConnected, range: m.fullyConnectedRange) }
        }
        timeline.record("\(StepPhases.updateStage)conv", .compute) {
            optimizer.step(learningRate: rates.convolutional, range: m.convolutionalRange)
        }
        // Every member computed its group's sum (the classifier's loss covers the group's G·B rows): the first
        // member's is the group's share.
        return position == 0 ? lossSum : 0
    }

    /// Adds this round's FC gradients to the step's sum (in round order, the same on every rank).
    private func accumulateFullyConnectedGradients(first: Bool) {
        let g = UnsafeMutableBufferPointer(rebasing: model.arena.gradients[model.fullyConnectedRange])
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

    /// The sharded FC stack for `n` gathered examples (one per round size, kept).
    private func classifier(batch n: Int) -> ShardedClassifier {
        if let existing = classifiers[n] { return existing }
        let made = ShardedClassifier(
            plan: model.plan, arena: model.arena, batch: n, communicator: model.channels.classifier,
            seed: model.seed)
        classifiers[n] = made
        return made
    }

    private func gatherLabels(_ labels: [Int32], counts: [Int]) throws -> [Int32] {
        let mine = labels.map(Float.init)
        var all = [Float](repeating: 0, count: counts.reduce(0, +))
        try mine.withUnsafeBufferPointer { m in
            try all.withUnsafeMutableBufferPointer {
                try model.channels.classifier.allGather(m, counts: counts, into: $0)
            }
        }
        return all.map { Int32($0) }
    }

    // MARK: - Sharded evaluation

    /// Rank r takes the r-th of K contiguous shards of the data set. In each round every rank runs its conv
    /// stage on up to B of its examples, the features and labels are all-gathered within the group, and
    /// every member evaluates the group's sharded FC stack on all of them (so the members tally the same
    /// rows); the groups' tallies are then summed. With several views per example (ten-crop) a round runs
    /// once per view and the softmax outputs are averaged.
    func evaluate(_ sampler: BatchSampler) throws -> EvaluationResult {
        let m = model, k = m.ranks, b = m.batch, rank = m.rank, views = sampler.source.views
        let members = m.plan.groupRanks, position = m.plan.position
        let shardSizes = segmentCounts(sampler.count, parts: k)
        let first = shardSizes[..<rank].reduce(0, +)
        var tally = EvaluationTally()
        let roundCount = (shardSizes.max()! + b - 1) / b
        let f = m.plan.model.featureWidth
        var labels = [Int32](repeating: 0, count: b)
        // This rank's batches, round by round and view by view (none in rounds past its shard).
        let requests = (0..<roundCount).flatMap { s in
            let mine = max(0, min(b, shardSizes[rank] - s * b))
            return mine == 0
                ? []
                : (0..<views).map { view in
                    BatchPrefetcher.Request(
                        (first + s * b)..<(first + s * b + mine), epoch: 0, use: .evaluation(view: view))
                }
        }
        let loader = BatchPrefetcher(sampler: sampler, depth: sampler.prefetch)
        var next = 0
        for s in 0..<roundCount {
            let counts = members.map { max(0, min(b, shardSizes[$0] - s * b)) }
            let mine = counts[position], n = counts.reduce(0, +)
            // A group whose shards ended a round before another's: the members skip it together.
            guard n > 0 else { continue }
            var average = SoftmaxAverage(rows: n, classes: m.plan.model.classes)
            var allLabels: [Int32] = []
            for _ in 0..<views {
                var features = UnsafeBufferPointer<Float>(start: nil, count: 0)
                if mine > 0 {
                    let net = evaluationNetwork(batch: mine)
                    try labels.withUnsafeMutableBufferPointer { l in
                        try loader.fill(
                            requests[next], images: net.input.floats,
                            labels: UnsafeMutableBufferPointer(rebasing: l[0..<mine]))
                    }
                    next += 1
                    loader.prefetch(Array(requests[next..<min(requests.count, next + sampler.prefetch)]))
                    features = UnsafeBufferPointer(net.forward(training: false).floats)
                }
                let gathered = Tensor(plain: [n, f])
                try m.channels.classifier.allGather(features, counts: counts.map { $0 * f }, into: gathered.floats)
                if allLabels.isEmpty { allLabels = try gatherLabels(Array(labels[0..<mine]), counts: counts) }
                let classifier = classifier(batch: n)
                let logits = try classifier.forward(gathered, training: false)
                if views == 1 {
                    tally.add(logits: logits, labels: allLabels, loss: classifier.loss)
                } else {
                    average.add(logits: UnsafeBufferPointer(logits.floats))
                }
            }
            if views > 1 { tally.add(average, labels: allLabels) }
        }
        // Every member of a group tallied the group's rows: the first member's count, summed over the groups.
        return try m.sumOverRanks(position == 0 ? tally : EvaluationTally()).result
    }

    /// The conv stage for `n` examples: the training network when `n` is B.
    private func evaluationNetwork(batch n: Int) -> Network {
        if n == model.batch { return model.network }
        if let existing = evaluationNetworks[n] { return existing }
        let made = Network(model: model.plan.model, arena: model.arena, batch: n, seed: 0, includesClassifier: false)
        evaluationNetworks[n] = made
        return made
    }
}
