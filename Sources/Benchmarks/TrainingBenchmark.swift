import Collectives
import Compute
import Datasets
import Foundation
import Timing
import Training

/// Real training steps of a run across ranks (`ParallelTrainer`, either parallelism), timed, with the
/// bytes every rank sends measured by its metered communicators (Note [bytes sent]) and set beside the
/// plan's arithmetic. The images are synthetic (seeded random pixels and labels, of the variant's input
/// shape): the work and the traffic of a step do not depend on what the pixels show.
public struct TrainingBenchmark: Sendable {
    public var configuration: ParallelTrainingConfiguration
    /// Untimed steps first (oneDNN's primitives are created, buffers touched).
    public var warmup: Int
    /// Timed steps.
    public var steps: Int
    /// Prepared shards to train on instead of synthetic images (their decoding and augmentation, on
    /// `loaderThreads` threads, is then part of every step), or nil.
    public var shards: String?
    public var loaderThreads = 1

    public init(configuration: ParallelTrainingConfiguration, warmup: Int = 1, steps: Int = 3) {
        precondition(warmup >= 0 && steps >= 1, "TrainingBenchmark: warmup ≥ 0 and steps ≥ 1, got \(warmup), \(steps)")
        self.configuration = configuration
        self.warmup = warmup
        self.steps = steps
    }

    /// K·B seeded random images and labels of `model`'s input shape and classes: one step's worth.
    public static func syntheticImages(model: AlexNet, count: Int, seed: UInt64) -> LabeledImages {
        var rng = SplitMix64(seed: seed)
        let size = model.inputShape.reduce(1, *)
        var pixels = [UInt8](repeating: 0, count: count * size)
        for i in pixels.indices { pixels[i] = UInt8(truncatingIfNeeded: rng.next()) }
        let labels = (0..<count).map { _ in Int32(rng.next() % UInt64(model.classes)) }
        return LabeledImages(
            pixels: pixels, labels: labels, imageShape: model.inputShape, classes: model.classes,
            source: "synthetic")
    }

    /// Runs on this rank (every rank of `communicator` calls it); returns the same figures on every rank.
    public func run(
        communicator: Communicator, progress: @escaping (String) -> Void = { _ in }
    ) throws
        -> TrainingBenchmarkResult
    {
        let c = configuration.training, k = communicator.size
        let trainer: ParallelTrainer
        if let shards {
            let source = try ShardExamples(
                directory: shards, split: "train", crop: c.model.inputShape[1], threads: loaderThreads)
            trainer = try ParallelTrainer(
                configuration: configuration, communicator: communicator, train: source,
                test: source.slice(0..<min(source.count, c.batchSize)), progress: progress)
        } else {
            let images = TrainingBenchmark.syntheticImages(model: c.model, count: k * c.batchSize, seed: c.seed)
            trainer = try ParallelTrainer(
                configuration: configuration, communicator: communicator, train: images,
                test: images.prefix(c.batchSize), progress: progress)
        }
        for line in trainer.plan.summary { progress(line) }
        let examples = Array(0..<(k * c.batchSize))[...]
        var seconds: [Double] = []
        var phases: [StepPhases] = []
        var lastStep: [Timeline.Span] = []
        var before: [String: TrafficMeter.Counts] = [:]
        for step in 0..<(warmup + steps) {
            if step == warmup { before = trainer.measuredTraffic }
            try communicator.barrier()
            trainer.timeline.isRecording = step >= warmup
            let start = monotonicSeconds()
            // Every step trains on the same examples: the next one's batch is made while this one computes.
            let next = step + 1 < warmup + steps ? [TrainingLoop.Batch(epoch: 0, examples: examples)] : []
            _ = try trainer.step(examples: examples, epoch: 0, step: step, rate: c.learningRate, upcoming: next)
            let end = monotonicSeconds()
            if step >= warmup {
                seconds.append(end - start)
                let spans = trainer.timeline.drain()
                phases.append(StepPhases(spans: spans, from: start, to: end))
                // Relative to this rank's step start (the ranks left the barrier together).
                lastStep = spans.map {
                    var s = $0; s.start -= start; s.end -= start; return s
                }
                progress(String(format: "step %d of %d: %.3f s", step - warmup + 1, steps, end - start))
            }
        }
        trainer.timeline.isRecording = false
        let measured = TrafficMeter.difference(trainer.measuredTraffic, before)
        let mine = TrafficReport(plan: trainer.plan, measured: measured, steps: steps)
        // Every rank's step times and traffic: the slowest rank's time and every rank's bytes are reported.
        let times = try communicator.allGatherDoubles(seconds, collective: "bench training times")
        let slowest = seconds.indices.map { i in times.map { $0[i] }.max()! }
        let traffic = try communicator.allGatherBytes(
            Array(try JSONEncoder().encode(mine)), collective: "bench training traffic"
        ).map { try JSONDecoder().decode(TrafficReport.self, from: Data($0)) }
        let rankPhases = try communicator.allGatherBytes(
            Array(try JSONEncoder().encode(StepPhases.mean(phases))), collective: "bench training phases"
        ).map { try JSONDecoder().decode(StepPhases.self, from: Data($0)) }
        let trace = try communicator.allGatherBytes(
            Array(try JSONEncoder().encode(lastStep)), collective: "bench training trace"
        ).map { try JSONDecoder().decode([Timeline.Span].self, from: Data($0)) }
        return TrainingBenchmarkResult(
            // What ran: the trainer's resolved plan (Note [one resolved plan]), not what was asked for.
            variant: c.model.name, parallelism: trainer.plan.parallelism,
            scheme: trainer.plan.groupSize > 1 ? trainer.plan.scheme : nil,
            codec: trainer.plan.codec, ranks: k, groupSize: trainer.plan.groupSize, batchPerRank: c.batchSize,
            threadsPerRank: ComputeEngine.threadCount, images: shards ?? "synthetic", warmup: warmup, steps: steps,
            stepSeconds: slowest, medianStepSeconds: median(slowest),
            imagesPerSecond: Double(k * c.batchSize) / median(slowest), traffic: traffic, phases: rankPhases,
            trace: trace)
    }
}
