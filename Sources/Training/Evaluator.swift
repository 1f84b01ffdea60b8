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

    public func evaluate(_ sampler: BatchSampler) -> EvaluationResult {
        let data = sampler.data
        var top1 = 0, top5 = 0
        var loss = 0.0
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
            let batchLabels = labels[0..<n]
            let logits = net.forward(training: false)
            top1 += topKCorrect(logits: logits, labels: batchLabels, k: 1)
            top5 += topKCorrect(logits: logits, labels: batchLabels, k: min(5, model.classes))
            loss += net.loss.forward(logits: logits, labels: batchLabels)
            start += n
        }
        let count = Double(max(data.count, 1))
        return EvaluationResult(
            examples: data.count, top1Error: 1 - Double(top1) / count,
            top5Error: 1 - Double(top5) / count, meanLoss: loss / count)
    }
}
