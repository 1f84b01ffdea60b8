import Compute

/// Training-time augmentation.
public struct Augmentation: Sendable, Equatable, Codable {
    /// Pad each side by this many zero (black) pixels, then crop a random window of the original size.
    public var cropPadding: Int
    /// Mirror left–right with probability 1/2.
    public var horizontalFlip: Bool

    public static let none = Augmentation(cropPadding: 0, horizontalFlip: false)

    public init(cropPadding: Int, horizontalFlip: Bool) {
        self.cropPadding = cropPadding
        self.horizontalFlip = horizontalFlip
    }
}

/// What `ExampleSource.fill` writes an example for.
public enum ExampleUse: Sendable, Hashable {
    /// Augmented, as a pure function of (seed, epoch, example).
    case training
    /// Evaluation window `view` of the source's `views` (the centre when there is one).
    case evaluation(view: Int)

    /// The one evaluation window of a source with one view.
    public static let centre = ExampleUse.evaluation(view: 0)
}

/// Examples a sampler can draw from: decoded images in memory (`ImageExamples`) or prepared shards
/// (`ShardExamples`). `fill` writes examples, normalised and, while training, augmented as a pure function of
/// (seed, epoch, example), so the same example gets the same pixels whichever batch, rank, thread or process
/// draws it.
public protocol ExampleSource: Sendable {
    var count: Int { get }
    var classes: Int { get }
    /// One example as `fill` writes it: (C, H, W).
    var exampleShape: [Int] { get }
    /// The normalisation `fill` applies (recorded in model files).
    var normalization: Normalization { get }
    /// Where the examples come from (a file or directory), for messages.
    var origin: String { get }
    /// Evaluation windows per example (10 for the paper's ten-crop test, whose softmax outputs are averaged).
    var views: Int { get }
    /// Examples `range` as a source of their own (the shards of a sharded evaluation).
    func slice(_ range: Range<Int>) -> any ExampleSource
    /// Writes examples `indices` into `images` (N, C, H, W) and `labels` (N), N = indices.count, for `use`.
    func fill<Indices: Collection<Int>>(
        _ indices: Indices, epoch: Int, use: ExampleUse, seed: UInt64,
        images: UnsafeMutableBufferPointer<Float>, labels: UnsafeMutableBufferPointer<Int32>) throws
}

extension ExampleSource {
    public var views: Int { 1 }
}

/// Examples `range` of a source that draws by the example's index in the whole set (shards, folders): the
/// slice's example i is the whole's example `range.lowerBound + i`, with the same pixels.
public struct ExampleSlice: ExampleSource {
    public let base: any ExampleSource
    public let range: Range<Int>

    public init(_ base: any ExampleSource, range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= base.count, "ExampleSlice: \(range) of \(base.count)")
        self.base = base
        self.range = range
    }

    public var count: Int { range.count }
    public var classes: Int { base.classes }
    public var exampleShape: [Int] { base.exampleShape }
    public var normalization: Normalization { base.normalization }
    public var origin: String { base.origin }
    public var views: Int { base.views }

    public func slice(_ range: Range<Int>) -> any ExampleSource {
        ExampleSlice(
            base, range: (self.range.lowerBound + range.lowerBound)..<(self.range.lowerBound + range.upperBound))
    }

    public func fill<Indices: Collection<Int>>(
        _ indices: Indices, epoch: Int, use: ExampleUse, seed: UInt64,
        images: UnsafeMutableBufferPointer<Float>, labels: UnsafeMutableBufferPointer<Int32>
    ) throws {
        try base.fill(
            indices.map { range.lowerBound + $0 }, epoch: epoch, use: use, seed: seed, images: images, labels: labels)
    }
}

/// Turns an example source into batches: a seeded per-epoch order over it, and `fill`.
///
/// The order of epoch e is a Fisher–Yates shuffle driven by `SplitMix64(seed ⊕ e)`; augmentation is the
/// source's, counter-based on (seed, epoch, example).
public struct BatchSampler: Sendable {
    public let source: any ExampleSource
    public let shuffle: Bool
    public let seed: UInt64
    /// Batches its consumers (the trainer, evaluation) make ahead on a background thread
    /// (Note [prefetching]); 0 makes each when it is needed.
    public var prefetch: Int

    public init(source: any ExampleSource, shuffle: Bool, seed: UInt64, prefetch: Int = 2) {
        self.source = source
        self.shuffle = shuffle
        self.seed = seed
        self.prefetch = prefetch
    }

    /// Decoded images in memory.
    public init(
        data: LabeledImages, normalization: Normalization, augmentation: Augmentation = .none,
        shuffle: Bool, seed: UInt64, prefetch: Int = 2
    ) {
        self.init(
            source: ImageExamples(images: data, normalization: normalization, augmentation: augmentation),
            shuffle: shuffle, seed: seed, prefetch: prefetch)
    }

    public var count: Int { source.count }
    public var normalization: Normalization { source.normalization }

    /// Examples `range`, in order (evaluation shards).
    public func slice(_ range: Range<Int>) -> BatchSampler {
        BatchSampler(source: source.slice(range), shuffle: false, seed: seed, prefetch: prefetch)
    }

    /// The example indices of `epoch` in the order they are visited.
    public func order(epoch: Int) -> [Int] {
        var order = Array(0..<count)
        guard shuffle else { return order }
        var rng = SplitMix64(seed: mix64(seed ^ 0x5EED_0F_0DE5) ^ UInt64(epoch))
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            order.swapAt(i, j)
        }
        return order
    }

    /// Writes examples `indices` of `epoch` into `images` (N, C, H, W) and `labels` (N), N = indices.count,
    /// for `use`.
    public func fill(
        _ indices: some Collection<Int>, epoch: Int, use: ExampleUse,
        images: UnsafeMutableBufferPointer<Float>, labels: UnsafeMutableBufferPointer<Int32>
    ) throws {
        try source.fill(indices, epoch: epoch, use: use, seed: seed, images: images, labels: labels)
    }
}

/// Decoded images held in memory (IDX files, small JPEG folders), with padding crops and flips.
public struct ImageExamples: ExampleSource {
    public let images: LabeledImages
    public let normalization: Normalization
    public let augmentation: Augmentation

    public init(images: LabeledImages, normalization: Normalization, augmentation: Augmentation = .none) {
        precondition(
            normalization.mean.count == images.imageShape[0] && normalization.std.count == images.imageShape[0],
            "normalisation has \(normalization.mean.count) channels, the data \(images.imageShape[0])")
        self.images = images
        self.normalization = normalization
        self.augmentation = augmentation
    }

    public var count: Int { images.count }
    public var classes: Int { images.classes }
    public var origin: String { images.source }
    public var exampleShape: [Int] { images.imageShape }

    public func slice(_ range: Range<Int>) -> any ExampleSource {
        ImageExamples(images: images.slice(range), normalization: normalization, augmentation: augmentation)
    }

    public func fill<Indices: Collection<Int>>(
        _ indices: Indices, epoch: Int, use: ExampleUse, seed: UInt64,
        images: UnsafeMutableBufferPointer<Float>, labels: UnsafeMutableBufferPointer<Int32>
    ) {
        let data = self.images, training = use == .training
        let shape = data.imageShape
        let (c, h, w) = (shape[0], shape[1], shape[2])
        let size = data.imageSize
        precondition(
            images.count >= indices.count * size && labels.count >= indices.count,
            "batch buffers hold \(images.count) floats and \(labels.count) labels; \(indices.count) examples of \(shape) need \(indices.count * size)"
        )
        let pad = training ? augmentation.cropPadding : 0
        let flip = training && augmentation.horizontalFlip
        // Lookup table: pixel byte → normalised value, per channel.
        let table: [[Float]] = (0..<c).map { ch in
            (0..<256).map { (Float($0) / 255 - normalization.mean[ch]) / normalization.std[ch] }
        }
        let epochKey = mix64(seed ^ 0xA11C_E5ED ^ mix64(UInt64(epoch)))
        data.pixels.withUnsafeBufferPointer { pixels in
            for (slot, example) in indices.enumerated() {
                labels[slot] = data.labels[example]
                let bits = mix64(epochKey ^ UInt64(example))
                let dy = pad > 0 ? Int(bits % UInt64(2 * pad + 1)) - pad : 0
                let dx = pad > 0 ? Int((bits >> 16) % UInt64(2 * pad + 1)) - pad : 0
                let mirrored = flip && (bits >> 63) == 1
                for ch in 0..<c {
                    let black = table[ch][0]
                    let source = example * size + ch * h * w
                    let target = slot * size + ch * h * w
                    for y in 0..<h {
                        let sy = y + dy
                        for x in 0..<w {
                            let sx0 = mirrored ? w - 1 - x : x
                            let sx = sx0 + dx
                            images[target + y * w + x] =
                                (sy >= 0 && sy < h && sx >= 0 && sx < w)
                                ? table[ch][Int(pixels[source + sy * w + sx])] : black
                        }
                    }
                }
            }
        }
    }
}
