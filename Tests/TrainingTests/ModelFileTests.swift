import Compute
import Datasets
import Foundation
import Testing

@testable import Training

@Suite struct ModelFileTests {
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "alexnet-dist-model-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    func savedSmallModel() throws -> (path: String, arena: ParameterArena) {
        let arena = AlexNet.small.makeArena()
        Initialization.he.apply(to: arena, model: .small, seed: 4)
        let path = dir + "/small.safetensors"
        try ModelFile.save(
            path, model: .small, groups: 1, arena: arena,
            normalization: Normalization(mean: [0.286], std: [0.353]), extra: ["step": "7"])
        return (path, arena)
    }

    @Test func roundTripsEveryTensorAndTheNormalisation() throws {
        let (path, arena) = try savedSmallModel()
        let loaded = try ModelFile.load(path)
        #expect(loaded.model == .small)
        #expect(Array(loaded.arena.values) == Array(arena.values))
        #expect(loaded.normalization == Normalization(mean: [0.286], std: [0.353]))
        #expect(loaded.metadata["step"] == "7")
        // No temporary file is left beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["small.safetensors"])
    }

    @Test func usesTheDocumentedTensorNamesAndPyTorchShapes() throws {
        let (path, _) = try savedSmallModel()
        let file = try SafeTensors.File(path: path)
        #expect(file.shapes["conv1.weight"] == [64, 1, 5, 5])
        #expect(file.shapes["conv2.bias"] == [128])
        #expect(file.shapes["fc6.weight"] == [1024, 512])
        #expect(file.shapes["fc8.weight"] == [10, 1024])
        #expect(file.shapes.count == 16)
    }

    @Test func rejectsAModelOfAnotherVariant() throws {
        let (path, _) = try savedSmallModel()
        let error = #expect(throws: ModelFile.LoadError.self) { try ModelFile.load(path, expectedVariant: "paper") }
        #expect(error?.description == "\(path): the file holds variant 'small', expected 'paper'")
    }

    @Test func rejectsATruncatedFile() throws {
        let (path, _) = try savedSmallModel()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count - 1000).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: SafeTensors.FormatError.self) { try ModelFile.load(path) }
        #expect(error?.problem.hasPrefix("truncated: tensor") == true, "\(String(describing: error))")
    }

    @Test func rejectsFilesThatAreNotSafetensors() throws {
        let path = dir + "/junk.safetensors"
        try Data("this is not a model file at all".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: SafeTensors.FormatError.self) { try ModelFile.load(path) }
        #expect(throws: SafeTensors.FormatError.self) { try ModelFile.load(dir + "/missing.safetensors") }
    }
}
