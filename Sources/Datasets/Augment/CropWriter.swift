import Compute
import Dispatch
import Foundation

/// Writes batches of decoded images as the network's input: while training the paper's augmentation (a
/// random `crop` window, a flip, PCA lighting), for evaluation the centre window or, with `tenCrop`, view v of
/// `EvaluationCrops.ten`; normalised. Images are loaded (read, decoded) on `threads` threads, one
/// `ImageDecoder` each; the bytes written do not depend on the thread count. Shared by prepared shards
/// (`ShardExamples`) and class folders read directly (`FolderExamples`).
struct CropWriter: Sendable {
    var augmentation: PaperAugmentation
    var normalization: Normalization
    var tenCrop: Bool
    var threads: Int

    /// - Parameters: the paper's augmentation (`crop`, PCA lighting with `eigenvalues`/`eigenvectors` and
    ///   α ~ N(0, `lighting`), `flip`), then `normalization`; evaluation on ten windows when `tenCrop`.
    init(
        crop: Int, eigenvalues: [Double], eigenvectors: [[Double]], lighting: Double, flip: Bool,
        normalization: Normalization, tenCrop: Bool, threads: Int
    ) {
        augmentation = PaperAugmentation(crop: crop, eigenvalues: eigenvalues, eigenvectors: eigenvectors)
        augmentation.lighting = lighting
        augmentation.flip = flip
        self.normalization = normalization
        self.tenCrop = tenCrop
        self.threads = max(1, threads)
    }

    var exampleShape: [Int] { [3, augmentation.crop, augmentation.crop] }
    var exampleSize: Int { 3 * augmentation.crop * augmentation.crop }
    var views: Int { tenCrop ? 10 : 1 }

    /// Writes `examples` (the source's global indices: the augmentation's counter) for `use` into `images`
    /// (N, 3, crop, crop) and `labels` (N); `load` gives an example's image (at least crop × crop) and label.
    func fill(
        _ examples: [Int], use: ExampleUse, seed: UInt64, epoch: Int,
        images: UnsafeMutableBufferPointer<Float>, labels: UnsafeMutableBufferPointer<Int32>,
        load: @Sendable (ImageDecoder, Int) throws -> (image: RGBImage, label: Int)
    ) throws {
        let size = exampleSize, crop = augmentation.crop
        precondition(
            images.count >= examples.count * size && labels.count >= examples.count, "CropWriter: buffers too small")
        if case .evaluation(let view) = use { precondition((0..<views).contains(view), "CropWriter: view \(view)") }
        let failures = Failures()
        let output = SendablePointer(images.baseAddress!), labelOutput = SendablePointer(labels.baseAddress!)
        let workers = min(threads, max(1, examples.count))
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            guard let decoder = try? ImageDecoder() else {
                failures.add(DatasetError("libjpeg-turbo", "could not start a decoder"))
                return
            }
            for slot in stride(from: w, to: examples.count, by: workers) {
                let example = examples[slot]
                do {
                    let (image, label) = try load(decoder, example)
                    let out = output.pointer + slot * size
                    switch use {
                    case .training:
                        let draw = augmentation.draw(
                            seed: seed, epoch: epoch, example: example, width: image.width, height: image.height)
                        augmentation.apply(image, draw, normalization: normalization, into: out)
                    case .evaluation(let view):
                        let window =
                            tenCrop
                            ? EvaluationCrops.ten(width: image.width, height: image.height, size: crop)[view]
                            : EvaluationCrops.centre(width: image.width, height: image.height, size: crop)
                        PaperAugmentation.write(
                            image, x: window.x, y: window.y, size: crop, mirrored: window.mirrored,
                            normalization: normalization, into: out)
                    }
                    labelOutput.pointer[slot] = Int32(label)
                } catch { failures.add(error) }
            }
        }
        if let error = failures.first { throw error }
    }

    /// The first error of a batch's workers.
    private final class Failures: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var first: Error?
        func add(_ error: Error) {
            lock.lock()
            if first == nil { first = error }
            lock.unlock()
        }
    }
}
