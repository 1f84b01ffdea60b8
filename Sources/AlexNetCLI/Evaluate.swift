import ArgumentParser
import Collectives
import Compute
import Datasets
import Foundation
import Training

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Report top-1/top-5 error and mean cross-entropy of a model file on a test set.")

    @Argument(help: "Model file written by `train` (safetensors).") var model: String
    @Option(help: "Reject the file unless it holds this variant.") var variant: AlexNet.Variant?
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var dataOptions: TestDataOptions
    @Option(help: "With --shards: the split to evaluate (train or val; default val).") var split: String?
    @Option(help: "Examples per forward pass.") var batchSize: Int = 256
    @Flag(help: "Print the result as JSON.") var json = false

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        if split != nil && dataOptions.shards == nil { throw ValidationError("--split applies to --shards") }
    }

    func run() throws {
        compute.apply()
        let loaded = try ModelFile.load(model, expectedVariant: variant?.rawValue)
        let test: any ExampleSource
        if let source = try dataOptions.source(
            imageShape: loaded.model.inputShape, classNames: loaded.classNames, split: split ?? "val",
            normalization: loaded.normalization)
        {
            try check(origin: source.origin, shape: source.exampleShape, classes: source.classes, loaded)
            test = source
        } else {
            let images = try dataOptions.load()
            try check(origin: images.source, shape: images.imageShape, classes: images.classes, loaded)
            test = ImageExamples(images: images, normalization: loaded.normalization)
        }
        guard test.count > 0 else { throw ValidationError("\(test.origin): no examples to evaluate") }
        let sampler = BatchSampler(source: test, shuffle: false, seed: 0, prefetch: dataOptions.loader.prefetch)
        let result = try Evaluator(model: loaded.model, arena: loaded.arena, batchSize: min(batchSize, test.count))
            .evaluate(sampler)
        guard result.meanLoss.isFinite else {
            let loss = result.meanLoss.isNaN ? "nan" : "\(result.meanLoss)"
            throw NonFiniteOutputs(
                description:
                    "\(model): the model's outputs on \(test.origin) are not finite (mean cross-entropy \(loss)): its weights are finite but overflow float32 in the forward pass, so its figures mean nothing; evaluate a checkpoint from before the run diverged"
            )
        }
        if json {
            let fields: [String: Any] = [
                "model": model, "variant": loaded.model.name, "examples": result.examples, "views": test.views,
                "top1_error": result.top1Error, "top5_error": result.top5Error,
                "top1_accuracy": result.top1Accuracy, "mean_cross_entropy": result.meanLoss,
            ]
            let data = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .prettyPrinted])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(
                String(
                    format:
                        "%@ (%@) on %d examples%@: top-1 error %.2f%% (accuracy %.2f%%), top-5 error %.2f%%, mean cross-entropy %.4f",
                    model, loaded.model.name, result.examples, test.views > 1 ? " (ten crops)" : "",
                    result.top1Error * 100, result.top1Accuracy * 100,
                    result.top5Error * 100, result.meanLoss))
        }
    }

    /// The data's images and classes fit the model.
    private func check(origin: String, shape: [Int], classes: Int, _ loaded: ModelFile.Loaded) throws {
        guard shape == loaded.model.inputShape, classes <= loaded.model.classes else {
            throw ValidationError(
                "\(origin): images are \(shape.map(String.init).joined(separator: "×")) in \(classes) classes; the model (\(loaded.model.name)) takes \(loaded.model.inputShape.map(String.init).joined(separator: "×")) in at most \(loaded.model.classes)"
            )
        }
    }
}

/// `evaluate` of a model whose outputs overflow: one line, the exit status of a diverged run.
struct NonFiniteOutputs: RunEndingError {
    let description: String
    var exitStatus: Int32 { ExitStatus.diverged }
    var sharedByEveryRank: Bool { true }
}
