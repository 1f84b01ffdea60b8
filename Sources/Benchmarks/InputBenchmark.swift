import Datasets
import Foundation
import Timing

/// What the loader delivers: prepared shards decoded and augmented as training draws them (the paper's
/// random crop, flip and PCA lighting), in batches of an epoch's order, on a given number of threads.
public struct InputBenchmarkResult: Codable, Sendable {
    public var threads: Int
    public var batchSize: Int
    public var crop: Int
    /// Images per second of each timed batch.
    public var imagesPerSecond: [Double]
    /// The process's peak resident memory after this thread count's batches (it only grows).
    public var peakResidentBytes: Int
    public var median: Double { Benchmarks.median(imagesPerSecond) }
}

/// Decodes and augments `batches` batches of `batchSize` training examples of the shards in `directory`
/// (after `warmup` untimed ones) on each thread count of `threads`.
public func benchmarkInput(
    directory: String, crop: Int, threads: [Int], batchSize: Int, warmup: Int, batches: Int
) throws -> [InputBenchmarkResult] {
    try threads.map { t in
        let source = try ShardExamples(directory: directory, split: "train", crop: crop, threads: t)
        let sampler = BatchSampler(source: source, shuffle: true, seed: 1)
        let order = sampler.order(epoch: 0)
        var images = [Float](repeating: 0, count: batchSize * source.exampleShape.reduce(1, *))
        var labels = [Int32](repeating: 0, count: batchSize)
        var rates: [Double] = []
        for b in 0..<(warmup + batches) {
            let first = (b * batchSize) % max(1, order.count - batchSize + 1)
            let indices = order[first..<min(order.count, first + batchSize)]
            let start = monotonicSeconds()
            try images.withUnsafeMutableBufferPointer { i in
                try labels.withUnsafeMutableBufferPointer { l in
                    try sampler.fill(indices, epoch: 0, use: .training, images: i, labels: l)
                }
            }
            if b >= warmup { rates.append(Double(indices.count) / (monotonicSeconds() - start)) }
        }
        return InputBenchmarkResult(
            threads: t, batchSize: batchSize, crop: crop, imagesPerSecond: rates, peakResidentBytes: peakResidentBytes()
        )
    }
}
