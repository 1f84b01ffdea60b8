/// Images of one shape with integer class labels, held as bytes.
///
///     pixels (N, C, H, W), 0…255
///     labels (N), each in 0 ..< classes
public struct LabeledImages: Sendable {
    public let pixels: [UInt8]
    public let labels: [Int32]
    /// (C, H, W)
    public let imageShape: [Int]
    public let classes: Int
    /// Where the data came from, for messages.
    public let source: String

    public init(pixels: [UInt8], labels: [Int32], imageShape: [Int], classes: Int, source: String) {
        precondition(
            pixels.count == labels.count * imageShape.reduce(1, *),
            "\(source): \(pixels.count) pixels for \(labels.count) images of \(imageShape)")
        self.pixels = pixels
        self.labels = labels
        self.imageShape = imageShape
        self.classes = classes
        self.source = source
    }

    public var count: Int { labels.count }
    public var imageSize: Int { imageShape.reduce(1, *) }

    /// Reads an MNIST-format pair of IDX files (gzip'd or not): images (N, H, W) and labels (N).
    public static func idx(images: String, labels: String, classes: Int = 10) throws -> LabeledImages {
        let imageFile = try IDXFile(path: images, rank: 3)
        let labelFile = try IDXFile(path: labels, rank: 1)
        guard imageFile.dims[0] > 0 else {
            throw DatasetError(images, "holds no images (its header counts 0), expected at least one")
        }
        guard imageFile.dims[1] > 0, imageFile.dims[2] > 0 else {
            throw DatasetError(
                images, "images of \(imageFile.dims[1])×\(imageFile.dims[2]) pixels, expected at least 1×1")
        }
        guard imageFile.dims[0] == labelFile.dims[0] else {
            throw DatasetError(labels, "\(labelFile.dims[0]) labels for the \(imageFile.dims[0]) images in \(images)")
        }
        if let bad = labelFile.values.firstIndex(where: { Int($0) >= classes }) {
            throw DatasetError(labels, "label \(labelFile.values[bad]) at index \(bad) is outside 0..<\(classes)")
        }
        return LabeledImages(
            pixels: imageFile.values, labels: labelFile.values.map { Int32($0) },
            imageShape: [1, imageFile.dims[1], imageFile.dims[2]], classes: classes, source: images)
    }

    /// The first `count` examples (or all, when there are fewer).
    public func prefix(_ count: Int) -> LabeledImages {
        let n = min(count, self.count)
        return LabeledImages(
            pixels: Array(pixels[0..<(n * imageSize)]), labels: Array(labels[0..<n]),
            imageShape: imageShape, classes: classes, source: source)
    }

    /// Examples `range`, as their own set (for holding out a validation split).
    public func slice(_ range: Range<Int>) -> LabeledImages {
        LabeledImages(
            pixels: Array(pixels[(range.lowerBound * imageSize)..<(range.upperBound * imageSize)]),
            labels: Array(labels[range]), imageShape: imageShape, classes: classes, source: source)
    }

    /// Per-channel mean and standard deviation of the pixels scaled to [0, 1].
    public func channelStatistics() -> Normalization {
        let c = imageShape[0], plane = imageShape[1] * imageShape[2]
        var sums = [Double](repeating: 0, count: c), squares = sums
        pixels.withUnsafeBufferPointer { p in
            for n in 0..<count {
                for ch in 0..<c {
                    var s: UInt64 = 0, q: UInt64 = 0
                    let base = (n * c + ch) * plane
                    for i in 0..<plane {
                        let v = UInt64(p[base + i])
                        s += v
                        q += v * v
                    }
                    sums[ch] += Double(s)
                    squares[ch] += Double(q)
                }
            }
        }
        let total = Double(count * plane)
        let mean = sums.map { $0 / total / 255 }
        let std = zip(squares, mean).map { (q, m) in max(q / total / (255 * 255) - m * m, 0).squareRoot() }
        return Normalization(mean: mean.map { Float($0) }, std: std.map { Float(max($0, 1e-6)) })
    }
}

/// `x ← (pixel / 255 − mean[c]) / std[c]` per channel.
public struct Normalization: Sendable, Equatable, Codable {
    public var mean: [Float]
    public var std: [Float]

    public init(mean: [Float], std: [Float]) {
        self.mean = mean
        self.std = std
    }
}
