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

    /// The counts over every example of `sampler`, in batches of `batchSize` (the last one smaller); with
    /// several views per example (ten-crop), the softmax outputs of each example's views averaged. Batches are
    /// made ahead (`sampler.prefetch`, Note [prefetching]).
    public func tally(_ sampler: BatchSampler) throws -> EvaluationTally {
        var tally = EvaluationTally()
        var labels = [Int32](repeating: 0, count: batchSize)
        let views = sampler.source.views
        let requests = stride(from: 0, to: sampler.count, by: max(1, batchSize)).flatMap { start in
            (0..<views).map { view in
                BatchPrefetcher.Request(
                    start..<min(start + batchSize, sampler.count), epoch: 0, use: .evaluation(view: view))
            }
        }
        let loader = BatchPrefetcher(sampler: sampler, depth: sampler.prefetch)
        var average: SoftmaxAverage?
        for (i, request) in requests.enumerated() {
            let n = request.examples.count
            let net = network(batch: n)
            try labels.withUnsafeMutableBufferPointer { l in
                try loader.fill(
                    request, images: net.input.floats, labels: UnsafeMutableBufferPointer(rebasing: l[0..<n]))
            }
            loader.prefetch(Array(requests[(i + 1)..<min(requests.count, i + 1 + sampler.prefetch)]))
            let logits = net.forward(training: false)
            if views == 1 {
                tally.add(logits: logits, labels: labels[0..<n], loss: net.loss)
                continue
            }
            if average == nil { average = SoftmaxAverage(rows: n, classes: model.classes) }
            average!.add(logits: UnsafeBufferPointer(logits.floats))
            if average!.views == views {
                tally.add(average!, labels: labels[0..<n])
                average = nil
            }
        }
        return tally
    }
}
