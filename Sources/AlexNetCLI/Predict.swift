import ArgumentParser
import Datasets
import Foundation
import Training

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The most likely classes of JPEG/PNG images under a model file.",
        discussion: """
            Each image is resized (short side 256 for paper and owt) and its centre window classified, or with \
            --ten-crop the four corners and the centre, each also mirrored, with their probabilities averaged. \
            Class names come from the model file (models trained on class folders carry them).
            """)

    @Argument(help: "Model file written by `train` (safetensors).") var model: String
    @Argument(help: "JPEG or PNG files (the format is read from the content).") var images: [String]
    @Option(help: "Classes listed per image.") var top: Int = 5
    @Flag(help: "Average the paper's ten crops.") var tenCrop = false
    @Flag(help: "Print JSON: one object per image.") var json = false
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("give at least one image") }
        guard top >= 1 else { throw ValidationError("--top must be at least 1, got \(top)") }
    }

    func run() throws {
        compute.apply()
        let predictor = Predictor(try ModelFile.load(model), tenCrop: tenCrop)
        let decoder = try ImageDecoder()
        var results: [[String: Any]] = []
        for path in images {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw DatasetError(path, "cannot be read")
            }
            let image = try decoder.decode([UInt8](data), path: path)
            let best = predictor.top(image, count: min(top, predictor.loaded.model.classes))
            if json {
                results.append([
                    "image": path,
                    "top": best.map {
                        ["label": $0.label, "class": $0.name, "probability": $0.probability] as [String: Any]
                    },
                ])
            } else {
                print(path)
                for entry in best {
                    print(String(format: "  %6.2f%%  %@ (%d)", entry.probability * 100, entry.name, entry.label))
                }
            }
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys, .prettyPrinted])
            print(String(decoding: data, as: UTF8.self))
        }
    }
}
