import Compute
import Foundation
import Timing
import Training

/// Figures of `bench compute`: training-step throughput of one variant at one batch size.
public struct ComputeBenchmarkResult: Codable, Sendable {
    public struct LayerTiming: Codable, Sendable {
        public var name: String
        public var forwardSeconds: Double
        public var backwardSeconds: Double
        /// FLOPs of forward + backward per step (convolutions and linear layers; 0 elsewhere).
        public var flops: Double
        /// The oneDNN implementations (forward, backward data, backward weights) for conv and linear layers.
        public var implementations: [String]
    }

    public var framework = "alexnet-dist"
    public var variant: String
    public var groups: Int
    public var batch: Int
    public var threads: Int
    public var warmup: Int
    public var steps: Int
    /// Wall time of each timed step: forward, loss, backward and SGD update.
    public var stepSeconds: [Double]
    public var medianStepSeconds: Double
    public var imagesPerSecond: Double
    /// Convolution and linear FLOPs of one step (forward and backward).
    public var flopsPerStep: Double
    public var achievedGFLOPS: Double
    /// Median time per step of the parameter update and of the softmax cross-entropy.
    public var optimizerSeconds: Double
    public var lossSeconds: Double
    /// Per layer, median over the timed steps.
    public var layers: [LayerTiming]
    /// Peak resident set size of the process (getrusage), bytes.
    public var peakResidentBytes: Int
    public var parameters: Int

    /// As the properties, with `achievedGFLOPS` spelled so that snake case (`achieved_gflops`) reads back.
    enum CodingKeys: String, CodingKey {
        case framework, variant, groups, batch, threads, warmup, steps, stepSeconds, medianStepSeconds
        case imagesPerSecond, flopsPerStep, optimizerSeconds, lossSeconds, layers, peakResidentBytes, parameters
        case achievedGFLOPS = "achievedGflops"
    }
}

/// Times training steps of a variant on synthetic data (fixed random images and labels, as the PyTorch
/// reference does), after warm-up, and checks that the steps did real work: finite losses and moved
/// parameters.
public func benchmarkCompute(
    model: AlexNet, groups: Int, batch: Int, warmup: Int, steps: Int,
    seed: UInt64 = 1
) throws -> ComputeBenchmarkResult {
    precondition(batch >= 1 && steps >= 1 && warmup >= 0, "benchmark: batch and steps must be positive")
    let arena = model.makeArena()
    model.defaultInitialization.apply(to: arena, model: model, seed: seed)
    let network = Network(model: model, arena: arena, batch: batch, seed: seed)
    let optimizer = SGD(arena: arena)
    var rng = SplitMix64(seed: seed)
    let input = network.input.floats
    for i in input.indices { input[i] = Float(rng.nextNormal()) }
    let labels = (0..<batch).map { _ in Int32(rng.next() % UInt64(model.classes)) }
    let before = Array(arena.values.prefix(1024))

    var stepTimes: [Double] = [], optimizerTimes: [Double] = [], lossTimes: [Double] = []
    var forward: [[Double]] = [], backward: [[Double]] = []
    for step in 0..<(warmup + steps) {
        let timed = step >= warmup
        network.resetProfile()
        network.profiling = timed
        let start = monotonicSeconds()
        let logits = network.forward(training: true, step: UInt64(step))
        let lossStart = monotonicSeconds()
        let loss = network.loss.forward(logits: logits, labels: labels) / Double(batch)
        let gradient = network.loss.backward(scale: 1 / Float(batch))
        let lossEnd = monotonicSeconds()
        network.backward(gradient)
        let updateStart = monotonicSeconds()
        optimizer.step(learningRate: 0.01)
        let end = monotonicSeconds()
        guard loss.isFinite else {
            throw TrainingError("benchmark step \(step): the loss is \(loss), the computation is broken")
        }
        if timed {
            stepTimes.append(end - start)
            optimizerTimes.append(end - updateStart)
            lossTimes.append(lossEnd - lossStart)
            forward.append(network.forwardSeconds)
            backward.append(network.backwardSeconds)
        }
    }
    guard Array(arena.values.prefix(1024)) != before else {
        throw TrainingError("benchmark: the parameters did not change, the update is broken")
    }

    let layers = network.layers.enumerated().map { i, layer in
        ComputeBenchmarkResult.LayerTiming(
            name: layer.name, forwardSeconds: median(forward.map { $0[i] }),
            backwardSeconds: median(backward.map { $0[i] }),
            flops: (layer is Conv2D || layer is Linear) ? layer.forwardFLOPs + layer.backwardFLOPs : 0,
            implementations: (layer as? Conv2D)?.implementations ?? (layer as? Linear)?.implementations ?? [])
    }
    let flops = layers.reduce(0) { $0 + $1.flops }
    let stepMedian = median(stepTimes)
    return ComputeBenchmarkResult(
        variant: model.name, groups: groups, batch: batch, threads: ComputeEngine.threadCount, warmup: warmup,
        steps: steps, stepSeconds: stepTimes, medianStepSeconds: stepMedian,
        imagesPerSecond: Double(batch) / stepMedian,
        flopsPerStep: flops, achievedGFLOPS: flops / stepMedian / 1e9, optimizerSeconds: median(optimizerTimes),
        lossSeconds: median(lossTimes), layers: layers, peakResidentBytes: peakResidentBytes(),
        parameters: arena.parameterCount)
}
