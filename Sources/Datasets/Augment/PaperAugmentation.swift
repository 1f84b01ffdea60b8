import Compute
import Foundation

/// The paper's training augmentation (Krizhevsky et al. 2012, section 4.1) on prepared 256×256 images: a
/// random `crop`×`crop` window (227 for `paper`, 224 for `owt`), a horizontal flip with probability 1/2, and
/// PCA colour lighting — every pixel's RGB gets Σᵢ αᵢ·λᵢ·pᵢ added, with the training set's RGB covariance
/// eigenvalues λᵢ and eigenvectors pᵢ and αᵢ ~ N(0, `lighting`) drawn once per image — then the
/// normalisation the model file records.
///
/// Counter-based, like `BatchSampler`'s: an example's window, flip and α are pure functions of (seed, epoch,
/// example), so any rank, thread or process draws the same ones.
public struct PaperAugmentation: Sendable, Equatable {
    public var crop: Int
    public var flip = true
    /// The standard deviation of α (0.1 in the paper; 0 turns lighting off).
    public var lighting = 0.1
    /// λ (descending) and p (columns), in [0, 1] pixel units, from `meta.json`.
    public var eigenvalues: [Double]
    public var eigenvectors: [[Double]]

    public init(crop: Int, eigenvalues: [Double], eigenvectors: [[Double]]) {
        self.crop = crop
        self.eigenvalues = eigenvalues
        self.eigenvectors = eigenvectors
    }

    /// What one example gets.
    public struct Draw: Sendable, Equatable {
        public var x: Int
        public var y: Int
        public var mirrored: Bool
        /// Added to R, G and B, in [0, 1] units.
        public var offset: [Float]
    }

    /// The draw of `example` in `epoch` for an image of `width × height`.
    public func draw(seed: UInt64, epoch: Int, example: Int, width: Int, height: Int) -> Draw {
        var rng = SplitMix64(seed: mix64(seed ^ 0xC0_10_0F_11) ^ mix64(UInt64(epoch) &* 0x9E37_79B9) ^ UInt64(example))
        let x = Int(rng.next() % UInt64(width - crop + 1))
        let y = Int(rng.next() % UInt64(height - crop + 1))
        let mirrored = flip && rng.next() >> 63 == 1
        var offset: [Float] = [0, 0, 0]
        if lighting > 0 {
            // Box–Muller from the counter's uniforms in (0, 1].
            var alpha: [Double] = []
            while alpha.count < 3 {
                let u1 = (Double(rng.next() >> 11) + 1) / 9_007_199_254_740_992
                let u2 = Double(rng.next() >> 11) / 9_007_199_254_740_992
                let r = (-2 * log(u1)).squareRoot()
                alpha += [r * cos(2 * .pi * u2), r * sin(2 * .pi * u2)]
            }
            for c in 0..<3 {
                offset[c] = Float(
                    (0..<3).reduce(0.0) { $0 + eigenvectors[c][$1] * alpha[$1] * lighting * eigenvalues[$1] })
            }
        }
        return Draw(x: x, y: y, mirrored: mirrored, offset: offset)
    }

    /// Writes the window `draw` places of `image`, mirrored and lit as drawn and normalised, as
    /// (3, crop, crop) floats at `output`.
    public func apply(
        _ image: RGBImage, _ draw: Draw, normalization: Normalization, into output: UnsafeMutablePointer<Float>
    ) {
        Self.write(
            image, x: draw.x, y: draw.y, size: crop, mirrored: draw.mirrored, offset: draw.offset,
            normalization: normalization, into: output)
    }

    /// (3, size, size) floats of the window at (x, y), optionally mirrored, `offset` added in [0, 1] units,
    /// then normalised: the one pixel loop of training crops and evaluation crops.
    public static func write(
        _ image: RGBImage, x: Int, y: Int, size: Int, mirrored: Bool, offset: [Float] = [0, 0, 0],
        normalization: Normalization, into output: UnsafeMutablePointer<Float>
    ) {
        precondition(x >= 0 && y >= 0 && x + size <= image.width && y + size <= image.height, "crop outside the image")
        image.pixels.withUnsafeBufferPointer { px in
            for c in 0..<3 {
                let scale = 1 / (255 * normalization.std[c]),
                    shift = (offset[c] - normalization.mean[c]) / normalization.std[c]
                let plane = output + c * size * size
                for row in 0..<size {
                    let source = ((y + row) * image.width + x) * 3 + c
                    for col in 0..<size {
                        let sx = mirrored ? size - 1 - col : col
                        plane[row * size + col] = Float(px[source + sx * 3]) * scale + shift
                    }
                }
            }
        }
    }
}

/// Where evaluation looks: the centre window, or the paper's ten (the four corners and the centre, each
/// also mirrored), placed as torchvision's `FiveCrop`/`TenCrop` place them.
public enum EvaluationCrops {
    public struct Window: Sendable, Equatable {
        public var x: Int
        public var y: Int
        public var mirrored: Bool
    }

    public static func centre(width: Int, height: Int, size: Int) -> Window {
        func offset(_ extent: Int) -> Int { Int((Double(extent - size) / 2).rounded(.toNearestOrEven)) }
        return Window(x: offset(width), y: offset(height), mirrored: false)
    }

    /// Top-left, top-right, bottom-left, bottom-right, centre; then the same five mirrored.
    public static func ten(width: Int, height: Int, size: Int) -> [Window] {
        let c = centre(width: width, height: height, size: size)
        let five = [
            Window(x: 0, y: 0, mirrored: false), Window(x: width - size, y: 0, mirrored: false),
            Window(x: 0, y: height - size, mirrored: false), Window(x: width - size, y: height - size, mirrored: false),
            c,
        ]
        return five + five.map { Window(x: $0.x, y: $0.y, mirrored: true) }
    }
}
