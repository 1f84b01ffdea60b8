import Testing

@testable import Datasets

/// Four 1×3×3 images; image k has pixels 10k + (row·3 + column).
func tinySet() -> LabeledImages {
    let pixels = (0..<4).flatMap { k in (0..<9).map { UInt8(10 * k + $0) } }
    return LabeledImages(pixels: pixels, labels: [0, 1, 2, 3], imageShape: [1, 3, 3], classes: 4, source: "tiny")
}

func fill(_ sampler: BatchSampler, _ indices: [Int], epoch: Int, training: Bool) -> ([Float], [Int32]) {
    var images = [Float](repeating: .nan, count: indices.count * sampler.source.exampleShape.reduce(1, *))
    var labels = [Int32](repeating: -1, count: indices.count)
    images.withUnsafeMutableBufferPointer { i in
        labels.withUnsafeMutableBufferPointer { l in
            try! sampler.fill(indices, epoch: epoch, use: training ? .training : .centre, images: i, labels: l)
        }
    }
    return (images, labels)
}

@Suite struct BatchSamplerTests {
    let identity = Normalization(mean: [0], std: [1.0 / 255])

    @Test func ordersArePermutationsFixedBySeedAndEpoch() {
        let data = LabeledImages(
            pixels: Array(repeating: 0, count: 100), labels: Array(repeating: 0, count: 100),
            imageShape: [1, 1, 1], classes: 1, source: "zeros")
        let a = BatchSampler(data: data, normalization: Normalization(mean: [0], std: [1]), shuffle: true, seed: 3)
        let b = BatchSampler(data: data, normalization: Normalization(mean: [0], std: [1]), shuffle: true, seed: 3)
        #expect(a.order(epoch: 0).sorted() == Array(0..<100))
        #expect(a.order(epoch: 0) == b.order(epoch: 0))
        #expect(a.order(epoch: 0) != a.order(epoch: 1))
        #expect(a.order(epoch: 0) != Array(0..<100))
    }

    @Test func normalisesPerChannel() {
        let sampler = BatchSampler(
            data: tinySet(), normalization: Normalization(mean: [0.5], std: [0.25]), shuffle: false, seed: 1)
        let (images, labels) = fill(sampler, [2], epoch: 0, training: false)
        #expect(labels == [2])
        let expected: [Float] = (0..<9).map { (k: Int) -> Float in (Float(20 + k) / 255 - 0.5) / 0.25 }
        #expect(images == expected)
    }

    @Test func cropsAndFlipsOnlyWhileTraining() {
        let sampler = BatchSampler(
            data: tinySet(), normalization: identity,
            augmentation: Augmentation(cropPadding: 1, horizontalFlip: true), shuffle: false, seed: 1)
        let plain = (0..<9).map { Float(30 + $0) }
        #expect(fill(sampler, [3], epoch: 0, training: false).0.map { $0.rounded() } == plain)
        // Over many epochs each example is seen shifted and mirrored in every way a 1-pixel crop allows.
        var variants = Set<[Float]>()
        for epoch in 0..<200 {
            variants.insert(fill(sampler, [3], epoch: epoch, training: true).0.map { $0.rounded() })
        }
        #expect(variants.count == 18)  // 9 offsets × {plain, mirrored}
        #expect(variants.contains(plain))
        #expect(variants.contains([32, 31, 30, 35, 34, 33, 38, 37, 36]))  // mirrored, no shift
    }

    @Test func anExampleGetsTheSamePixelsInAnyBatch() {
        let sampler = BatchSampler(
            data: tinySet(), normalization: identity,
            augmentation: Augmentation(cropPadding: 1, horizontalFlip: true), shuffle: true, seed: 9)
        let (alone, _) = fill(sampler, [1], epoch: 4, training: true)
        let (together, _) = fill(sampler, [3, 1, 0], epoch: 4, training: true)
        #expect(Array(together[9..<18]) == alone)
    }
}
