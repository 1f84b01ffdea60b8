import Collectives
import Compute

/// One rank's part of the model and what trains it: the parameters the plan gives the rank (conv layers
/// whole, FC layers whole or as row shards), the optimiser over them, the network that runs the rank's
/// examples, the gradient buckets that sum the replicated layers' gradients, and the channels.
/// The lifecycle (`ParallelTrainer`) and the step schedules share it.
final class RankModel {
    let plan: ParallelPlan
    /// The run's seed: the initial draw and every dropout mask derive from it.
    let seed: UInt64
    let arena: ParameterArena
    let optimizer: SGD
    /// Hybrid: the conv stage for B examples, (B, C, H, W) → (B, F); data: the whole network.
    let network: Network
    let buckets: GradientBuckets
    /// The FC shards' gradients summed across the groups (nil with one group, or G = 1).
    let shardBuckets: GradientBuckets?
    let channels: TrainingChannels
    let timeline: Timeline
    /// The arena range of the conv layers' parameters (replicated in both parallelisms).
    let convolutionalRange: Range<Int>
    /// The arena range of the FC layers' parameters (this rank's shards under hybrid).
    let fullyConnectedRange: Range<Int>
    /// The parameters whose gradients are allreduced over every rank (conv; G = 1: every layer), in arena
    /// order.
    let synchronisedViews: [ParameterView]
    /// This rank's FC shard parameters, whose gradients are summed across the groups when there are several.
    let shardViews: [ParameterView]

    var ranks: Int { plan.ranks }
    var rank: Int { plan.rank }
    /// Examples per rank per step, B.
    var batch: Int { plan.batchPerRank }

    /// Draws the whole model from the seed, as one process would, and keeps the rank's part.
    init(
        configuration: ParallelTrainingConfiguration, plan: ParallelPlan, channels: TrainingChannels,
        timeline: Timeline
    ) {
        let c = configuration.training
        seed = c.seed
        self.plan = plan
        self.channels = channels
        self.timeline = timeline
        arena = ParameterArena(layout: plan.parameterLayout)
        if plan.parallelism == .data {
            // The rank holds the whole model in the model's own layout: draw it in place.
            c.initialization.apply(to: arena, model: c.model, seed: c.seed)
        } else {
            let whole = c.model.makeArena()
            c.initialization.apply(to: whole, model: c.model, seed: c.seed)
            plan.extract(UnsafeBufferPointer(whole.values), layout: whole, into: arena.values, layout: arena)
        }
        optimizer = SGD(arena: arena, momentum: c.momentum, weightDecay: c.weightDecay)

        let convLayers = Set(c.model.features.map(\.name))
        let convViews = arena.views.filter { convLayers.contains($0.layer) }
        convolutionalRange = arena.range(of: convViews)
        fullyConnectedRange = arena.range(of: arena.views.filter { !convLayers.contains($0.layer) })
        let hybrid = plan.parallelism == .hybrid
        synchronisedViews = plan.replicatedViews
        shardViews = plan.shardViews
        network = Network(
            model: c.model, arena: arena, batch: c.batchSize, seed: c.seed, includesClassifier: !hybrid)
        network.firstExample = plan.rank * c.batchSize
        network.layerObserver = { [convLayers] layer, backward, start, end in
            guard timeline.isRecording else { return }
            let stage = convLayers.contains(layer.name) ? StepPhases.convStage : StepPhases.fullyConnectedStage
            timeline.add(
                "\(stage)\(layer.name) \(backward ? "backward" : "forward")", .compute, start: start, end: end)
        }
        // Both gradient streams on one transfer thread (Note [one gradient stream]).
        let transfer = plan.overlap ? SerialWorker(name: "buckets") : nil
        buckets = GradientBuckets(
            arena: arena, views: synchronisedViews, bucketElements: plan.bucketElements,
            communicator: channels.gradients, codec: plan.codec, overlap: plan.overlap, worker: transfer,
            timeline: timeline)
        let (arena, shardViews) = (arena, shardViews)
        shardBuckets = channels.shardGradients.map {
            GradientBuckets(
                arena: arena, views: shardViews, bucketElements: plan.bucketElements, communicator: $0,
                codec: plan.codec, overlap: plan.overlap, worker: transfer, timeline: timeline)
        }
    }

    /// Each rank's `values` summed in rank order, as Doubles (every rank gets the same sums). A collective.
    func sumOverRanks(_ values: [Double]) throws -> [Double] {
        let all = try channels.world.allGatherDoubles(values, collective: "sumOverRanks")
        return values.indices.map { i in all.reduce(0) { $0 + $1[i] } }
    }

    /// Every rank's tally summed (examples, correct counts, loss), the same on every rank. A collective.
    func sumOverRanks(_ tally: EvaluationTally) throws -> EvaluationTally {
        let sums = try sumOverRanks([
            Double(tally.examples), Double(tally.top1Correct), Double(tally.top5Correct), tally.lossSum,
        ])
        var total = EvaluationTally()
        total.examples = Int(sums[0])
        total.top1Correct = Int(sums[1])
        total.top5Correct = Int(sums[2])
        total.lossSum = sums[3]
        return total
    }

    /// The whole model (FC shards gathered) on every rank, laid out as `model.makeArena()`. A collective
    /// under hybrid; under data parallelism every rank already holds the whole model, and this is its own
    /// arena (not a copy: read it, do not keep it across steps).
    func gatherModel() throws -> ParameterArena {
        if plan.parallelism == .data { return arena }
        let whole = plan.model.makeArena()
        try plan.assemble(
            UnsafeBufferPointer(arena.values), layout: arena, into: whole.values, layout: whole,
            communicator: channels.classifier)
        return whole
    }
}
