import Compute
import Datasets

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

    public func evaluate(_ sampler: BatchSampler) throws -> EvaluationResult { try tally(sampler).result }

    /// The counts over every example of `sampler`, in batches of `batchSize` (the last one smaller).
    public func tally(_ sampler: BatchSampler) throws -> EvaluationTally {
        var tally = EvaluationTally()
        var labels = [Int32](repeating: 0, count: batchSize)
        var start = 0
        while start < sampler.count {
            let n = min(batchSize, sampler.count - start)
            let net = network(batch: n)
            try labels.withUnsafeMutableBufferPointer { l in
                try sampler.fill(
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
