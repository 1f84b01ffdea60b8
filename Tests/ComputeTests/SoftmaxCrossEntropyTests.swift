import Foundation
import Testing

@testable import Compute

@Suite struct SoftmaxCrossEntropyTests {
    @Test func lossAndGradientMatchTheFormula() {
        let (batch, classes) = (4, 6)
        var random = TestRandom(7)
        let z = random.uniform(batch * classes, -4...4)
        let labels: [Int32] = [0, 5, 2, 2]
        let softmax = SoftmaxCrossEntropy(batch: batch, classes: classes)
        let total = softmax.forward(logits: Tensor(plain: [batch, classes], values: z), labels: labels)
        var expectedTotal = 0.0
        var expectedGrad = [Float](repeating: 0, count: z.count)
        for n in 0..<batch {
            let row = (0..<classes).map { Double(z[n * classes + $0]) }
            let logSum = log(row.map { exp($0) }.reduce(0, +))
            expectedTotal += logSum - row[Int(labels[n])]
            for c in 0..<classes {
                expectedGrad[n * classes + c] = Float(
                    (exp(row[c] - logSum) - (c == Int(labels[n]) ? 1 : 0)) / Double(batch))
            }
        }
        #expect(abs(total - expectedTotal) < 1e-4)
        let grad = softmax.backward(scale: 1 / Float(batch)).plainValues()
        #expect(maxRelativeError(grad, expectedGrad) < 1e-6)
    }

    @Test func gradientMatchesFiniteDifferences() {
        let (batch, classes) = (3, 5)
        var random = TestRandom(8)
        let z = random.uniform(batch * classes, -3...3)
        let labels: [Int32] = [4, 0, 2]
        let softmax = SoftmaxCrossEntropy(batch: batch, classes: classes)
        func meanLoss(_ logits: [Float]) -> Double {
            softmax.forward(logits: Tensor(plain: [batch, classes], values: logits), labels: labels) / Double(batch)
        }
        _ = meanLoss(z)
        let analytic = softmax.backward(scale: 1 / Float(batch)).plainValues()
        let epsilon: Float = 1e-2
        let numeric: [Float] = z.indices.map { i in
            var up = z, down = z
            up[i] += epsilon
            down[i] -= epsilon
            return Float((meanLoss(up) - meanLoss(down)) / Double(2 * epsilon))
        }
        #expect(maxRelativeError(analytic, numeric) < 1e-3)
    }

    @Test func nanLogitsAreNeverCorrect() {
        let logits = Tensor(plain: [2, 3], values: [.nan, 0, 0, 1, .nan, 0])
        #expect(topKCorrect(logits: logits, labels: [Int32(0), 0], k: 1) == 0)
        #expect(topKCorrect(logits: logits, labels: [Int32(0), 0], k: 2) == 1)
    }

    @Test func topKCountsLabelsAmongTheLargestLogits() {
        let logits = Tensor(plain: [3, 4], values: [0.1, 0.9, 0.5, 0.2, 1, 0, 0, 0, 0.3, 0.2, 0.1, 0.4])
        let labels: [Int32] = [2, 0, 1]
        #expect(topKCorrect(logits: logits, labels: labels, k: 1) == 1)
        #expect(topKCorrect(logits: logits, labels: labels, k: 2) == 2)
        #expect(topKCorrect(logits: logits, labels: labels, k: 3) == 3)
    }
}
