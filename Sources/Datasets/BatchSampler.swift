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

/// Turns a data set into batches: a seeded per-epoch order, normalisation and augmentation.
///
/// Everything random is a pure function of (seed, epoch, example index): the order of epoch e is a
/// Fisher–Yates shuffle driven by `SplitMix64(seed ⊕ e)`, and an example's crop and flip come from a
/// counter-based hash of (seed, epoch, example). So the same example gets the same pixels whichever
/// batch, rank or process draws it.
public struct BatchSampler: Sendable {
    public let data: LabeledImages
    public let normalization: Normalization
    public let augmentation: Augmentation
    public let shuffle: Bool
    public let seed: UInt64

    public init(
        data: LabeledImages, normalization: Normalization, augmentation: Augmentation = .none,
        shuffle: Bool, seed: UInt64
    ) {
        precondition(
            normalization.mean.count == data.imageShape[0] && normalization.std.count == data.imageShape[0],
            "normalisation has \(normalization.mean.count) channels, the data \(data.imageShape[0])")
        self.data = data
        self.normalization = normalization
        self.augmentation = augmentation
        self.shuffle = shuffle
        self.seed = seed
    }

    /// The example indices of `epoch` in the order they are visited.
    public func order(epoch: Int) -> [Int] {
        var order = Array(0..<data.count)
        guard shuffle else { return order }
        var rng = SplitMix64(seed: mix64(seed ^ 0x5EED_0F_0DE5) ^ UInt64(epoch))
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            order.swapAt(i, j)
        }
        return order
    }

    /// Writes examples `indices` of `epoch` into `images` (N, C, H, W) and `labels` (N), N = indices.count.
    /// - Parameter training: applies augmentation when true.
    public func fill(
        _ indices: some Collection<Int>, epoch: Int, training: Bool,
        images: UnsafeMutableBufferPointer<Float>, labels: UnsafeMutableBufferPointer<Int32>
    ) {
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
