import Collectives
import Compute
import Datasets

/// Data parallelism (Horovod, DDP): every rank runs the whole network on its B examples and the whole
/// gradient is summed over the ranks, bucket by bucket as backward finishes each layer
/// (Note [gradient averaging]). With one rank this is single-process training: no collective moves data.
final class DataParallelSchedule: StepSchedule {
    private let model: RankModel

    init(_ model: RankModel) { self.model = model }

    func step(labels: [Int32], step: Int, rates: (convolutional: Float, fullyConnected: Float)) throws -> Double {
        let m = model, network = m.network, timeline = m.timeline
        let examples = m.ranks * m.batch
        let logits = network.forward(training: true, step: UInt64(step))
        let (loss, gradient) = timeline.record("\(StepPhases.fullyConnectedStage)loss", .compute) {
            (
                network.loss.forward(logits: logits, labels: labels),
                network.loss.backward(scale: 1 / Float(examples))
            )
        }
        network.backward(gradient) { m.buckets.finished(layer: $0.name) }
        try timeline.record("wait gradients", .wait) { try m.buckets.finish() }
        timeline.record("\(StepPhases.updateStage)all", .compute) {
            m.optimizer.step(learningRate: rates.convolutional)
        }
        return loss
    }

    /// Rank r evaluates the r-th of K contiguous shards of the data set with the whole model; the tallies
    /// are summed.
    func evaluate(_ sampler: BatchSampler) throws -> EvaluationResult {
        let m = model
        let shardSizes = segmentCounts(sampler.count, parts: m.ranks)
        let first = shardSizes[..<m.rank].reduce(0, +)
        let tally = try evaluator.tally(sampler.slice(first..<(first + shardSizes[m.rank])))
        return try m.sumOverRanks(tally).result
    }

    /// The whole model on this rank's shard, through the training network where the batch fits.
    private lazy var evaluator: Evaluator = {
        let evaluator = Evaluator(model: model.plan.model, arena: model.arena, batchSize: model.batch)
        evaluator.adopt(model.network)
        return evaluator
    }()
}
