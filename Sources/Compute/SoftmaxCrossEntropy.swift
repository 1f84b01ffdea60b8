import Foundation

/// Softmax over classes fused with the cross-entropy against integer labels:
///
///     loss_n = log Σ_c exp(z[n, c]) − z[n, y_n]          (max-subtracted for stability)
///     ∂L/∂z[n, c] = (softmax(z)[n, c] − [c = y_n]) · scale
///
///     logits (N, C), plain;   labels (N), each in 0 ..< C
///
/// `scale` is 1/N for the mean loss over this batch; data-parallel callers pass 1/(global batch).
public final class SoftmaxCrossEntropy {
    public let batch: Int
    public let classes: Int
    /// softmax(z), (N, C); after `forward`, the gradient buffer holds it until `backward`.
    private let gradient: Tensor
    private var labels: [Int32]

    public init(batch: Int, classes: Int) {
        self.batch = batch
        self.classes = classes
        gradient = Tensor(plain: [batch, classes])
        labels = Array(repeating: 0, count: batch)
    }

    /// Returns the sum over the batch of the per-example losses (divide by N for the mean).
    public func forward(logits: Tensor, labels: some Collection<Int32>) -> Double {
        precondition(
            logits.dims == [batch, classes], "softmax: logits are \(logits.dims), expected \([batch, classes])")
        precondition(labels.count == batch, "softmax: \(labels.count) labels for a batch of \(batch)")
        let z = logits.floats, p = gradient.floats
        var total = 0.0
        for (n, label) in labels.enumerated() {
            precondition(label >= 0 && Int(label) < classes, "softmax: label \(label) outside 0..<\(classes)")
            self.labels[n] = label
            let row = n * classes
            var maxLogit = -Float.infinity
            for c in 0..<classes { maxLogit = max(maxLogit, z[row + c]) }
            var sum: Float = 0
            for c in 0..<classes {
                let e = expf(z[row + c] - maxLogit)
                p[row + c] = e
                sum += e
            }
            let inverse = 1 / sum
            for c in 0..<classes { p[row + c] *= inverse }
            total += Double(logf(sum) + maxLogit - z[row + Int(label)])
        }
        return total
    }

    /// The gradient of `scale · Σ_n loss_n` with respect to the logits, (N, C).
    public func backward(scale: Float) -> Tensor {
        let g = gradient.floats
        for n in 0..<batch {
            let row = n * classes
            g[row + Int(labels[n])] -= 1
            for c in 0..<classes { g[row + c] *= scale }
        }
        return gradient
    }
}

/// How many rows of `logits` (N, C) have their label among the k largest logits. Ties and NaNs count
/// against: another class whose logit is not below the label's (equal, larger or NaN) ranks above it,
/// and a NaN label logit is never correct.
public func topKCorrect(logits: Tensor, labels: some Collection<Int32>, k: Int) -> Int {
    let dims = logits.dims
    precondition(dims.count == 2 && labels.count == dims[0], "top-k: logits \(dims) for \(labels.count) labels")
    let classes = dims[1], z = logits.floats
    var correct = 0
    for (n, label) in labels.enumerated() {
        let row = n * classes
        let target = z[row + Int(label)]
        guard !target.isNaN else { continue }
        var above = 0
        for c in 0..<classes where c != Int(label) && !(z[row + c] < target) { above += 1 }
        if above < k { correct += 1 }
    }
    return correct
}
