import Compute
import Datasets

/// Test-set figures: top-1 and top-5 error and the mean cross-entropy.
public struct EvaluationResult: Sendable, Codable, Equatable {
    public var examples: Int
    public var top1Error: Double
    public var top5Error: Double
    public var meanLoss: Double

    public var top1Accuracy: Double { 1 - top1Error }
}

/// Runs a model over a data set without dropout, in batches, on networks that share one arena.
public final class Evaluator {
    public let model: AlexNet
    public let arena: ParameterArena
    public let batchSize: Int
    private var networks: [Int: Network] = [:]

    public init(model: AlexNet, arena: ParameterArena, batchSize: Int) {
        self.model = model
        self.arena = arena
        self.batchSize = batchSize
    }

    /// Reuses a training network of the same batch size instead of building another.
    public func adopt(_ network: Network) {
        precondition(network.arena === arena, "evaluator: network uses another arena")
        networks[network.batch] = network
    }

    private func network(batch: Int) -> Network {
        if let network = networks[batch] { return network }
        let network = Network(model: model, arena: arena, batch: batch, seed: 0)
        networks[batch] = network
        return network
    }

    public func evaluate(_ sampler: BatchSampler) -> EvaluationResult { tally(sampler).result }

    /// The counts over every example of `sampler`, in batches of `batchSize` (the last one smaller).
    public func tally(_ sampler: BatchSampler) -> EvaluationTally {
        let data = sampler.data
        var tally = EvaluationTally()
        var labels = [Int32](repeating: 0, count: batchSize)
        var start = 0
        while start < data.count {
            let n = min(batchSize, data.count - start)
            let net = network(batch: n)
            labels.withUnsafeMutableBufferPointer { l in
                sampler.fill(
                    start..<(start + n), epoch: 0, training: false, images: net.input.floats,
                    labels: UnsafeMutableBufferPointer(rebasing: l[0..<n]))
            }
            let logits = net.forward(training: false)
            tally.add(logits: logits, labels: labels[0..<n], loss: net.loss)
            start += n
        }
        return tally
    }
}

/// The counts behind an `EvaluationResult`; tallies of disjoint shards of a data set add up.
public struct EvaluationTally: Sendable, Equatable {
    public var examples = 0
    public var top1Correct = 0
    public var top5Correct = 0
    /// Σ of the per-example cross-entropies.
    public var lossSum = 0.0

    public init() {}

    /// Counts the rows of `logits` (N, C) against `labels` (N); `loss` must be built for N rows and C classes.
    public mutating func add(logits: Tensor, labels: some Collection<Int32>, loss: SoftmaxCrossEntropy) {
        top1Correct += topKCorrect(logits: logits, labels: labels, k: 1)
        top5Correct += topKCorrect(logits: logits, labels: labels, k: min(5, loss.classes))
        lossSum += loss.forward(logits: logits, labels: labels)
        examples += labels.count
    }

    public static func += (total: inout EvaluationTally, other: EvaluationTally) {
        total.examples += other.examples
        total.top1Correct += other.top1Correct
        total.top5Correct += other.top5Correct
        total.lossSum += other.lossSum
    }

    public var result: EvaluationResult {
        let count = Double(max(examples, 1))
        return EvaluationResult(
            examples: examples, top1Error: 1 - Double(top1Correct) / count,
            top5Error: 1 - Double(top5Correct) / count, meanLoss: lossSum / count)
    }
}
