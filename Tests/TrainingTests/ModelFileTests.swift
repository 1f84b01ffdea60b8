import Compute
import Datasets
import Foundation
import Testing

@testable import Training

@Suite final class ModelFileTests {
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "alexnet-dist-model-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }

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

    /// A head of another size (`--classes`) is recorded and read back; the variant's own head adds nothing to
    /// the file (files stay byte-identical to those written before `classes` existed).
    @Test func recordsAHeadOfAnotherSize() throws {
        let model = AlexNet.small.withClasses(3)
        #expect(model.classes == 3 && model.parameterCount == AlexNet.small.parameterCount - 7 * 1025)
        let arena = model.makeArena()
        Initialization.he.apply(to: arena, model: model, seed: 4)
        let path = dir + "/three.safetensors"
        try ModelFile.save(
            path, model: model, groups: 1, arena: arena, normalization: Normalization(mean: [0], std: [1]))
        let loaded = try ModelFile.load(path)
        #expect(loaded.model == model && loaded.metadata["classes"] == "3")
        #expect(try SafeTensors.File(path: path).shapes["fc8.weight"] == [3, 1024])
        #expect(try ModelFile.load(try savedSmallModel().path).metadata["classes"] == nil)
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

    /// A small model file with the given metadata replacing the saved one.
    func fileWithMetadata(_ changes: [String: String?]) throws -> String {
        let (path, arena) = try savedSmallModel()
        var metadata = try SafeTensors.File(path: path).metadata
        for (key, value) in changes { metadata[key] = value }
        let entries = arena.views.map {
            SafeTensors.Entry(name: $0.name, shape: $0.shape, values: UnsafeBufferPointer(arena.values(of: $0)))
        }
        try SafeTensors.write(path, entries: entries, metadata: metadata)
        return path
    }

    @Test(
        arguments: [
            (["groups": "0"], "metadata groups '0' is not 1 or 2"),
            (["groups": "x"], "metadata groups 'x' is not 1 or 2"),
            (
                ["normalization_std": "[0]"],
                "metadata normalization_mean/normalization_std must be 1 finite value(s), std > 0"
            ),
            (
                ["normalization_mean": nil],
                "metadata normalization_mean/normalization_std must be 1 finite value(s), std > 0"
            ),
            (["variant": "vgg"], "unknown variant 'vgg' with groups 1"),
            (["parameters": "2566411"], "metadata parameters '2566411' is not variant small's 2566410"),
            (["class_names": "[\"a\",3]"], "metadata class_names is not a JSON array of 1…10 strings"),
            (["class_names": "[]"], "metadata class_names is not a JSON array of 1…10 strings"),
        ] as [([String: String?], String)])
    func rejectsBadMetadata(_ changes: [String: String?], _ problem: String) throws {
        let path = try fileWithMetadata(changes)
        let error = #expect(throws: ModelFile.LoadError.self) { try ModelFile.load(path) }
        #expect(error?.problem == problem)
    }

    @Test func rejectsAHeaderWithAnOverflowingShape() throws {
        let header = #"{"fc8.bias":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}"#
        var bytes = [UInt8](repeating: 0, count: 8)
        bytes[0] = UInt8(header.utf8.count)
        bytes += Array(header.utf8) + Array(repeating: 0, count: 16)
        let path = dir + "/overflow.safetensors"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: SafeTensors.FormatError.self) { try SafeTensors.File(path: path) }
        #expect(error?.problem == "tensor fc8.bias: shape [4611686018427387904, 4] is not a valid size")
    }

    @Test func rejectsFilesThatAreNotSafetensors() throws {
        let path = dir + "/junk.safetensors"
        try Data("this is not a model file at all".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: SafeTensors.FormatError.self) { try ModelFile.load(path) }
        #expect(throws: SafeTensors.FormatError.self) { try ModelFile.load(dir + "/missing.safetensors") }
    }
}
