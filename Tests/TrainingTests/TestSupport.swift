import Collectives
import Compute
import Datasets
import Training

@testable import Training

/// Deterministic values in [-1, 1).
func values(_ count: Int, seed: UInt64) -> [Float] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in Float(Double(rng.next() >> 11) / Double(1 << 53) * 2 - 1) }
}

/// Random 28×28 images with labels 0…9 in turn.
func syntheticImages(count: Int, seed: UInt64) -> LabeledImages {
    var rng = SplitMix64(seed: seed)
    return LabeledImages(
        pixels: (0..<(count * 784)).map { _ in UInt8(rng.next() & 0xFF) },
        labels: (0..<count).map { Int32($0 % 10) }, imageShape: [1, 28, 28], classes: 10, source: "synthetic")
}

/// The recipe of the equivalence tests: `small`, a few steps, augmentation on (it is per example, so it
/// must not depend on which rank draws an example).
func recipe(batch: Int, steps: Int) -> TrainingConfiguration {
    var c = TrainingConfiguration(model: .small)
    c.batchSize = batch
    c.maxSteps = steps
    c.logEvery = 1_000
    c.augmentation = Augmentation(cropPadding: 2, horizontalFlip: true)
    c.metricsPath = nil
    c.outputPath = nil
    return c
}

/// Trains on `ranks` in-process ranks; returns the whole model's values (gathered) and the result.
func trainInProcess(
    ranks: Int, _ configure: (inout ParallelTrainingConfiguration) -> Void, batch: Int, steps: Int,
    data: LabeledImages
) throws -> (values: [Float], result: TrainingResult) {
    var c = ParallelTrainingConfiguration(training: recipe(batch: batch, steps: steps))
    configure(&c)
    let configuration = c
    return try InProcessCommunicator.run(size: ranks) { comm in
        ComputeEngine.threadCount = 1
        let trainer = try ParallelTrainer(
            configuration: configuration, communicator: comm, train: data, test: data.prefix(40))
        let result = try trainer.run()
        return (try trainer.gatherModel().valueArray, result)
    }[0]
}

/// The trainer on one rank, as plain `alexnet-dist train` runs it.
func oneRankTrainer(
    _ c: TrainingConfiguration, train: LabeledImages, test: LabeledImages,
    progress: @escaping (String) -> Void = { _ in }
) throws -> ParallelTrainer {
    try ParallelTrainer(
        configuration: ParallelTrainingConfiguration(training: c), communicator: InProcessCommunicator.alone(),
        train: train, test: test, progress: progress)
}

/// ‖a − b‖ / ‖b − start‖: how far apart two runs ended, as a share of how far `b` moved from `start`.
func relativeDistance(_ a: [Float], _ b: [Float], from start: [Float]) -> Double {
    precondition(a.count == b.count && b.count == start.count)
    var apart = 0.0, moved = 0.0
    for i in a.indices {
        apart += Double(a[i] - b[i]) * Double(a[i] - b[i])
        moved += Double(b[i] - start[i]) * Double(b[i] - start[i])
    }
    return (apart / moved).squareRoot()
}

func largestDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
