import Compute
import Datasets
import Foundation

/// A model's most likely classes for single images: each image resized (Pillow's anti-aliased bilinear) so
/// its short side is `resizeTo` (256 for the paper's 227 and 224 inputs, the input itself below that),
/// then the centre window, or the paper's ten windows (`EvaluationCrops.ten`) with their softmax averaged,
/// normalised as the model file records. One-channel models see the image in grey (Pillow's `L`).
public final class Predictor {
    public let loaded: ModelFile.Loaded
    public let tenCrop: Bool
    private let network: Network

    public init(_ loaded: ModelFile.Loaded, tenCrop: Bool) {
        self.loaded = loaded
        self.tenCrop = tenCrop
        network = Network(model: loaded.model, arena: loaded.arena, batch: tenCrop ? 10 : 1, seed: 0)
    }

    /// The short side an image is resized to before cropping.
    public var resizeTo: Int {
        let side = loaded.model.inputShape[1]
        return side >= 200 ? 256 : side
    }

    /// Each class's probability for `image`, in label order.
    public func probabilities(_ image: RGBImage) -> [Double] {
        let shape = loaded.model.inputShape
        let (channels, side) = (shape[0], shape[1])
        let target = image.shortSideSize(resizeTo)
        let resized = Resample.resize(image, width: target.width, height: target.height)
        let windows =
            tenCrop
            ? EvaluationCrops.ten(width: resized.width, height: resized.height, size: side)
            : [EvaluationCrops.centre(width: resized.width, height: resized.height, size: side)]
        let input = network.input.floats.baseAddress!
        for (i, window) in windows.enumerated() {
            let out = input + i * channels * side * side
            if channels == 3 {
                PaperAugmentation.write(
                    resized, x: window.x, y: window.y, size: side, mirrored: window.mirrored,
                    normalization: loaded.normalization, into: out)
            } else {
                Predictor.writeGrey(resized, window, size: side, normalization: loaded.normalization, into: out)
            }
        }
        let logits = network.forward(training: false).floats
        let classes = loaded.model.classes
        var average = SoftmaxAverage(rows: 1, classes: classes)
        for row in 0..<windows.count {
            average.add(logits: UnsafeBufferPointer(rebasing: logits[(row * classes)..<((row + 1) * classes)]))
        }
        return average.mean
    }

    /// The `count` most likely classes, most likely first, with names when the model file has them.
    public func top(_ image: RGBImage, count: Int) -> [(label: Int, name: String, probability: Double)] {
        let p = probabilities(image)
        let names = loaded.classNames
        return p.indices.sorted { p[$0] > p[$1] || (p[$0] == p[$1] && $0 < $1) }.prefix(count).map { k in
            (k, names.flatMap { k < $0.count ? $0[k] : nil } ?? "class \(k)", p[k])
        }
    }

    /// Pillow's `convert("L")` (L = (299 R + 587 G + 114 B) / 1000, rounded), then normalised.
    static func writeGrey(
        _ image: RGBImage, _ window: EvaluationCrops.Window, size: Int, normalization: Normalization,
        into output: UnsafeMutablePointer<Float>
    ) {
        for row in 0..<size {
            for col in 0..<size {
                let x = window.x + (window.mirrored ? size - 1 - col : col), y = window.y + row
                let p = (y * image.width + x) * 3
                let r = Int(image.pixels[p]), g = Int(image.pixels[p + 1]), b = Int(image.pixels[p + 2])
                let grey = Float((r * 299 + g * 587 + b * 114 + 500) / 1000)
                output[row * size + col] = (grey / 255 - normalization.mean[0]) / normalization.std[0]
            }
        }
    }
}
