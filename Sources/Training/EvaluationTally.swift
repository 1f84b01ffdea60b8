import Compute
import Datasets
import Foundation

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

    /// Counts examples from their softmax outputs averaged over views (`average`, the paper's ten-crop test):
    /// top-k of the averaged probabilities, loss −log of the label's.
    public mutating func add(_ average: SoftmaxAverage, labels: some Collection<Int32>) {
        let mean = average.mean, classes = average.classes
        for (row, label) in labels.enumerated() {
            let p = mean[(row * classes)..<((row + 1) * classes)], target = p[p.startIndex + Int(label)]
            // As `topKCorrect`: the classes scoring at least the label's, ties counted against it.
            let above = p.indices.filter { $0 != p.startIndex + Int(label) && !(p[$0] < target) }.count
            if above < 1 { top1Correct += 1 }
            if above < min(5, classes) { top5Correct += 1 }
            lossSum -= log(max(target, Double.leastNormalMagnitude))
        }
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

/// Softmax outputs averaged over an example's views (the paper's ten-crop test), in Double.
public struct SoftmaxAverage: Sendable {
    public let rows: Int
    public let classes: Int
    private var sums: [Double]
    public private(set) var views = 0

    public init(rows: Int, classes: Int) {
        self.rows = rows
        self.classes = classes
        sums = [Double](repeating: 0, count: rows * classes)
    }

    /// Adds one view's logits (rows, classes).
    public mutating func add(logits: UnsafeBufferPointer<Float>) {
        precondition(logits.count >= rows * classes, "SoftmaxAverage: \(logits.count) logits for \(rows) × \(classes)")
        for row in 0..<rows {
            let values = (0..<classes).map { Double(logits[row * classes + $0]) }
            let top = values.max() ?? 0
            let exps = values.map { exp($0 - top) }
            let sum = exps.reduce(0, +)
            for k in 0..<classes { sums[row * classes + k] += exps[k] / sum }
        }
        views += 1
    }

    /// The averaged probabilities (rows, classes).
    public var mean: [Double] { sums.map { $0 / Double(max(views, 1)) } }
}
