import Compute
import Datasets

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
