import Foundation
import Testing

@testable import Datasets

/// Note [prefetching]: a batch made ahead holds the bytes of the batch made on time, whichever batches were
/// asked for and skipped, and a failure surfaces at the `fill` that asks for the failed batch.
@Suite struct BatchPrefetcherTests {
    /// The batch `request` filled by the sampler itself.
    static func direct(_ sampler: BatchSampler, _ request: BatchPrefetcher.Request) throws -> ([Float], [Int32]) {
        try fill(request, size: sampler.source.exampleShape.reduce(1, *)) { i, l in
            try sampler.fill(request.examples, epoch: request.epoch, use: request.use, images: i, labels: l)
        }
    }

    static func fill(
        _ request: BatchPrefetcher.Request, size: Int,
        _ body: (UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Int32>) throws -> Void
    ) throws -> ([Float], [Int32]) {
        var images = [Float](repeating: .nan, count: request.examples.count * size)
        var labels = [Int32](repeating: -1, count: request.examples.count)
        try images.withUnsafeMutableBufferPointer { i in
            try labels.withUnsafeMutableBufferPointer { l in try body(i, l) }
        }
        return (images, labels)
    }

    @Test func batchesMadeAheadEqualBatchesMadeOnTime() throws {
        let (root, out) = try ShardExamplesTests.prepared()
        defer {
            try? FileManager.default.removeItem(atPath: root)
            try? FileManager.default.removeItem(atPath: out)
        }
        let source = try ShardExamples(directory: out, split: "train", crop: 224, threads: 2, tenCrop: true)
        let sampler = BatchSampler(source: source, shuffle: true, seed: 9)
        let order = sampler.order(epoch: 1)
        let requests = [
            BatchPrefetcher.Request(order[0..<4], epoch: 1, use: .training),
            BatchPrefetcher.Request(order[4..<8], epoch: 1, use: .training),
            BatchPrefetcher.Request(order[8..<12], epoch: 1, use: .training),
            BatchPrefetcher.Request([3, 1], epoch: 0, use: .evaluation(view: 7)),
            BatchPrefetcher.Request([2], epoch: 0, use: .evaluation(view: 0)),
        ]
        let size = source.exampleShape.reduce(1, *)
        let prefetcher = BatchPrefetcher(sampler: sampler, depth: 2)
        func take(_ r: BatchPrefetcher.Request) throws -> ([Float], [Int32]) {
            try Self.fill(r, size: size) { i, l in try prefetcher.fill(r, images: i, labels: l) }
        }
        prefetcher.prefetch(Array(requests[0..<3]))  // only two are made ahead (depth 2)
        #expect(try take(requests[0]) == Self.direct(sampler, requests[0]))
        prefetcher.prefetch([requests[1], requests[2]])
        // requests[1] was made ahead and is skipped; requests[2] is taken.
        #expect(try take(requests[2]) == Self.direct(sampler, requests[2]))
        prefetcher.prefetch([requests[3]])
        // Not requested: made on the spot, the pending batch dropped.
        #expect(try take(requests[4]) == Self.direct(sampler, requests[4]))
        #expect(try take(requests[3]) == Self.direct(sampler, requests[3]))
        let unprefetched = BatchPrefetcher(sampler: sampler, depth: 0)
        unprefetched.prefetch([requests[1]])
        #expect(
            try Self.fill(requests[1], size: size) { i, l in try unprefetched.fill(requests[1], images: i, labels: l) }
                == Self.direct(sampler, requests[1]))
    }

    /// Examples 0…9 of one pixel; example 5 fails.
    struct Failing: ExampleSource {
        var count: Int { 10 }
        var classes: Int { 2 }
        var exampleShape: [Int] { [1, 1, 1] }
        var normalization: Normalization { Normalization(mean: [0], std: [1]) }
        var origin: String { "failing" }
        func slice(_ range: Range<Int>) -> any ExampleSource { self }
        func fill<Indices: Collection<Int>>(
            _ indices: Indices, epoch: Int, use: ExampleUse, seed: UInt64,
            images: UnsafeMutableBufferPointer<Float>, labels: UnsafeMutableBufferPointer<Int32>
        ) throws {
            for (slot, i) in indices.enumerated() {
                if i == 5 { throw DatasetError("failing", "example 5 is damaged") }
                images[slot] = Float(i)
                labels[slot] = Int32(i % 2)
            }
        }
    }

    @Test func aFailureSurfacesAtTheFillThatAsksForIt() throws {
        let sampler = BatchSampler(source: Failing(), shuffle: false, seed: 1)
        let good = BatchPrefetcher.Request([1, 2], epoch: 0, use: .training)
        let bad = BatchPrefetcher.Request([4, 5], epoch: 0, use: .training)
        let prefetcher = BatchPrefetcher(sampler: sampler, depth: 2)
        func take(_ r: BatchPrefetcher.Request) throws -> ([Float], [Int32]) {
            try Self.fill(r, size: 1) { i, l in try prefetcher.fill(r, images: i, labels: l) }
        }
        prefetcher.prefetch([bad, good])
        // The damaged batch, made ahead and skipped, is not an error.
        #expect(try take(good) == ([1, 2], [1, 0]))
        prefetcher.prefetch([bad])
        #expect { try take(bad) } throws: { "\($0)".contains("example 5 is damaged") }
        #expect(try take(good) == ([1, 2], [1, 0]))
    }
}
