import Compute
import Foundation
import Testing

@testable import Datasets

/// The paper's augmentation: counter-based draws within the image, flips about half the time, lighting of
/// the size the eigenvalues say; crops written as the pixel formula says; TenCrop's windows.
@Suite struct PaperAugmentationTests {
    /// ImageNet's commonly used PCA (Krizhevsky's lighting), eigenvectors as columns.
    static let augmentation = PaperAugmentation(
        crop: 227, eigenvalues: [0.2175, 0.0188, 0.0045],
        eigenvectors: [[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]])

    @Test func drawsAreCounterBasedAndWithinTheImage() {
        let a = Self.augmentation
        #expect(
            a.draw(seed: 1, epoch: 2, example: 3, width: 256, height: 256)
                == a.draw(seed: 1, epoch: 2, example: 3, width: 256, height: 256))
        #expect(
            a.draw(seed: 1, epoch: 2, example: 3, width: 256, height: 256)
                != a.draw(seed: 1, epoch: 3, example: 3, width: 256, height: 256))
        var flips = 0
        var sumSquares: [Double] = [0, 0, 0]
        let n = 4000
        for example in 0..<n {
            let d = a.draw(seed: 7, epoch: 0, example: example, width: 256, height: 300)
            #expect((0...29).contains(d.x) && (0...73).contains(d.y))
            if d.mirrored { flips += 1 }
            for c in 0..<3 { sumSquares[c] += Double(d.offset[c] * d.offset[c]) }
        }
        #expect(abs(Double(flips) / Double(n) - 0.5) < 0.05)
        // Var(offset_c) = Σᵢ (p_ci · λᵢ · 0.1)²: red ≈ (0.5675 · 0.02175)² + … ≈ 1.53e-4.
        for c in 0..<3 {
            let expected = (0..<3).reduce(0.0) { $0 + pow(a.eigenvectors[c][$1] * a.eigenvalues[$1] * 0.1, 2) }
            #expect(abs(sumSquares[c] / Double(n) / expected - 1) < 0.1, "channel \(c)")
        }
    }

    @Test func cropsAreWrittenAsTheFormulaSays() {
        var pixels = [UInt8](repeating: 0, count: 4 * 3 * 3)
        for i in pixels.indices { pixels[i] = UInt8(i * 5) }
        let image = RGBImage(width: 4, height: 3, pixels: pixels)
        let normalization = Normalization(mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.5])
        var out = [Float](repeating: 0, count: 3 * 2 * 2)
        out.withUnsafeMutableBufferPointer {
            PaperAugmentation.write(
                image, x: 1, y: 1, size: 2, mirrored: true, offset: [0.01, 0, -0.01], normalization: normalization,
                into: $0.baseAddress!)
        }
        // Output (c, row 0, col 0) mirrored is image (x 2, y 1).
        for c in 0..<3 {
            let byte = Float(pixels[((1 * 4) + 2) * 3 + c])
            let expected = (byte / 255 + [0.01, 0, -0.01][c] - normalization.mean[c]) / normalization.std[c]
            #expect(abs(out[c * 4] - expected) < 1e-5)
        }
    }

    /// torchvision's TenCrop(227) of a 256×256 image: corners, the centre (offset 14.5 rounds to 14), mirrored.
    @Test func tenCropWindows() {
        let windows = EvaluationCrops.ten(width: 256, height: 256, size: 227)
        #expect(windows.prefix(5).map { [$0.x, $0.y] } == [[0, 0], [29, 0], [0, 29], [29, 29], [14, 14]])
        #expect(windows.suffix(5).allSatisfy(\.mirrored) && windows.prefix(5).allSatisfy { !$0.mirrored })
        #expect(EvaluationCrops.centre(width: 256, height: 256, size: 224) == .init(x: 16, y: 16, mirrored: false))
    }
}
