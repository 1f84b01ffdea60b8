import Compute
import Datasets
import Foundation
import Testing

@testable import Training

let fashionMNISTInstalled = FileManager.default.fileExists(
    atPath: FashionMNIST.defaultDirectory + "/train-images-idx3-ubyte.gz")

@Suite(.serialized) struct TrainerTests {
    /// Learning works end to end: a few hundred steps on a slice of the real Fashion-MNIST.
    @Test(.enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"), .timeLimit(.minutes(2)))
    func trainsSmallFarAboveChanceOnRealFashionMNIST() throws {
        let train = try FashionMNIST.load(split: .train).prefix(3_000)
        let test = try FashionMNIST.load(split: .test).prefix(1_000)
        var c = TrainingConfiguration(model: .small)
        c.batchSize = 50
        c.epochs = 2
        c.logEvery = 1_000
        c.augmentation = .none
        let result = try Trainer(configuration: c, train: train, test: test).run()
        #expect(result.steps == 120)
        // Chance is 10%; two passes over 3,000 images reach about 73% here.
        #expect(result.test.top1Accuracy > 0.6, "top-1 accuracy \(result.test.top1Accuracy)")
        #expect(result.test.top5Error < 0.1)
    }

    /// The same configuration and seed give bit-identical weights.
    @Test func trainingIsDeterministic() throws {
        let data = syntheticImages(count: 64, seed: 1)
        func weights() throws -> [Float] {
            var c = TrainingConfiguration(model: .small)
            c.batchSize = 16
            c.maxSteps = 3
            c.augmentation = Augmentation(cropPadding: 2, horizontalFlip: true)
            let trainer = try Trainer(configuration: c, train: data, test: data)
            _ = try trainer.run()
            return Array(trainer.arena.values)
        }
        #expect(try weights() == weights())
    }

    @Test func rejectsImagesOfTheWrongShapeForTheVariant() {
        let data = syntheticImages(count: 8, seed: 2)
        let error = #expect(throws: TrainingError.self) {
            try Trainer(configuration: TrainingConfiguration(model: .owt), train: data, test: data)
        }
        #expect(error?.description == "synthetic: images are 1×28×28; variant owt expects 3×224×224")
    }

    @Test func rejectsCropPaddingAsLargeAsTheImage() {
        let data = syntheticImages(count: 8, seed: 2)
        var c = TrainingConfiguration(model: .small)
        c.augmentation = Augmentation(cropPadding: 28, horizontalFlip: false)
        let error = #expect(throws: TrainingError.self) { try Trainer(configuration: c, train: data, test: data) }
        #expect(error?.description == "crop padding 28 must be below the image size 28")
    }

    @Test func writesMetricsAndTheModel() throws {
        let dir = NSTemporaryDirectory() + "alexnet-dist-trainer-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = syntheticImages(count: 64, seed: 3)
        var c = TrainingConfiguration(model: .small)
        c.batchSize = 16
        c.epochs = 2
        c.logEvery = 2
        c.metricsPath = dir + "/metrics.jsonl"
        c.outputPath = dir + "/model.safetensors"
        let trainer = try Trainer(configuration: c, train: data, test: data)
        _ = try trainer.run()
        let lines = try String(contentsOfFile: c.metricsPath!, encoding: .utf8).split(separator: "\n")
        let records = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(records.filter { $0["event"] as? String == "step" }.count == 4)
        let evaluations = records.filter { $0["event"] as? String == "evaluation" }
        #expect(evaluations.count == 2)
        #expect(evaluations.allSatisfy { $0["top1_error"] is Double && $0["top5_error"] is Double })
        let loaded = try ModelFile.load(c.outputPath!, expectedVariant: "small")
        #expect(Array(loaded.arena.values) == Array(trainer.arena.values))
    }
}

/// Random 1×28×28 images in 10 classes.
func syntheticImages(count: Int, seed: UInt64) -> LabeledImages {
    var rng = SplitMix64(seed: seed)
    return LabeledImages(
        pixels: (0..<(count * 784)).map { _ in UInt8(rng.next() & 0xFF) },
        labels: (0..<count).map { Int32($0 % 10) }, imageShape: [1, 28, 28], classes: 10, source: "synthetic")
}
