import Compute
import Datasets
import Foundation
import Testing

@testable import Training

/// `predict`: probabilities that sum to 1, the network's own softmax for a single image, names from the
/// model file, ten crops averaged.
@Suite struct PredictorTests {
    @Test func probabilitiesAreTheNetworksSoftmaxWithNames() throws {
        let data = syntheticImages(count: 64, seed: 5)
        let trainer = try oneRankTrainer(recipe(batch: 16, steps: 2), train: data, test: data.prefix(16))
        _ = try trainer.run()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "predict-\(UUID().uuidString).safetensors"
        ).path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let names = (0..<10).map { "thing \($0)" }
        try ModelFile.save(
            path, model: .small, groups: 1, arena: trainer.arena, normalization: trainer.loop.samplers.normalization,
            classNames: names)
        let loaded = try ModelFile.load(path)
        // Example 3 as an RGB image (grey replicated), and the network run on its normalised bytes.
        let bytes = Array(data.pixels[(3 * 784)..<(4 * 784)])
        let image = RGBImage(width: 28, height: 28, pixels: bytes.flatMap { [$0, $0, $0] })
        let predictor = Predictor(loaded, tenCrop: false)
        let p = predictor.probabilities(image)
        #expect(abs(p.reduce(0, +) - 1) < 1e-9)
        let network = Network(model: .small, arena: loaded.arena, batch: 1, seed: 0)
        let n = loaded.normalization
        for i in 0..<784 { network.input.floats[i] = (Float(bytes[i]) / 255 - n.mean[0]) / n.std[0] }
        let logits = (0..<10).map { Double(network.forward(training: false).floats[$0]) }
        let top = logits.max()!
        let softmax = logits.map { exp($0 - top) / logits.reduce(0) { $0 + exp($1 - top) } }
        #expect(zip(p, softmax).allSatisfy { abs($0 - $1) < 1e-6 })
        let best = predictor.top(image, count: 3)
        #expect(
            best.count == 3 && best[0].probability >= best[1].probability && best[1].probability >= best[2].probability)
        #expect(best[0].name == "thing \(best[0].label)")
        // Ten crops of a 28×28 input at 28: ten times the same window, five mirrored.
        let ten = Predictor(loaded, tenCrop: true).probabilities(image)
        #expect(abs(ten.reduce(0, +) - 1) < 1e-9)
    }
}
