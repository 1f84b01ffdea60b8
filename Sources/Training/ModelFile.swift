import Compute
import Datasets
import Foundation

/// The trained model as one safetensors file.
///
/// Tensors, in network order: `conv1.weight` (O, I/groups, K, K), `conv1.bias` (O), …, `conv5.bias`,
/// `fc6.weight` (O, I), `fc6.bias` (O), …, `fc8.bias` — PyTorch's layouts, so a PyTorch model of the same
/// architecture loads them directly. Metadata (strings): `format` (`alexnet-dist`), `variant`, `groups`,
/// `parameters`, `normalization_mean`, `normalization_std` (JSON arrays), `class_names` (a JSON array,
/// when trained on a JPEG folder), and training facts (`step`, `epoch`, `seed`).
public enum ModelFile {
    public struct LoadError: Error, CustomStringConvertible {
        public let path: String
        public let problem: String
        /// The file is sound but belongs to another run (variant, groups, classes, seed): `--resume auto`
        /// stops on it instead of skipping to an older checkpoint or starting afresh.
        public var belongsToAnotherRun = false
        public var description: String { "\(path): \(problem)" }

        public init(path: String, problem: String, belongsToAnotherRun: Bool = false) {
            self.path = path
            self.problem = problem
            self.belongsToAnotherRun = belongsToAnotherRun
        }
    }

    /// Writes the arena's parameters atomically.
    /// - Parameter classNames: the data set's class names in label order (JPEG folders), kept as
    ///   `class_names` so `evaluate` labels a test folder the same way.
    /// - Parameter extraTensors: more tensors after the parameters (a checkpoint's optimiser state, named
    ///   `momentum.<parameter>`; `load` skips them).
    public static func save(
        _ path: String, model: AlexNet, groups: Int, arena: ParameterArena,
        normalization: Normalization, classNames: [String]? = nil,
        extra: [String: String] = [:], extraTensors: [SafeTensors.Entry] = []
    ) throws {
        let entries =
            arena.views.map {
                SafeTensors.Entry(name: $0.name, shape: $0.shape, values: UnsafeBufferPointer(arena.values(of: $0)))
            } + extraTensors
        var metadata = extra
        metadata["format"] = "alexnet-dist"
        metadata["variant"] = model.name
        metadata["groups"] = String(groups)
        // Only when not the variant's (files of the variant's own head stay as they were).
        if model.classes != AlexNet.named(model.name, groups: groups)?.classes {
            metadata["classes"] = String(model.classes)
        }
        metadata["parameters"] = String(arena.parameterCount)
        metadata["normalization_mean"] = jsonArray(normalization.mean)
        metadata["normalization_std"] = jsonArray(normalization.std)
        if let classNames {
            metadata["class_names"] = String(decoding: try JSONEncoder().encode(classNames), as: UTF8.self)
        }
        try SafeTensors.write(path, entries: entries, metadata: metadata)
    }

    /// A model read back from a file.
    public struct Loaded {
        public let model: AlexNet
        public let groups: Int
        public let arena: ParameterArena
        public let normalization: Normalization
        public let metadata: [String: String]
        /// The file as read (a checkpoint's optimiser state is read from it).
        public let file: SafeTensors.File

        /// The training set's class names, when it was a JPEG folder.
        public var classNames: [String]? {
            metadata["class_names"].flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) }
        }
    }

    /// Reads a model file, checking that it holds every tensor of its variant with the right shape.
    /// - Parameter expectedVariant: when given, a file of another variant is rejected.
    public static func load(_ path: String, expectedVariant: String? = nil) throws -> Loaded {
        let file = try SafeTensors.File(path: path)
        let meta = file.metadata
        guard meta["format"] == "alexnet-dist", let name = meta["variant"] else {
            throw LoadError(path: path, problem: "not an alexnet-dist model file (metadata has no format/variant)")
        }
        guard let groups = Int(meta["groups"] ?? "1"), groups == 1 || groups == 2 else {
            throw LoadError(path: path, problem: "metadata groups '\(meta["groups"] ?? "")' is not 1 or 2")
        }
        guard let variant = AlexNet.named(name, groups: groups) else {
            throw LoadError(path: path, problem: "unknown variant '\(name)' with groups \(groups)")
        }
        // Files from before `classes` was recorded have the variant's.
        guard let classes = Int(meta["classes"] ?? String(variant.classes)), (1...AlexNet.maxClasses).contains(classes)
        else {
            throw LoadError(
                path: path,
                problem: "metadata classes '\(meta["classes"] ?? "")' is not a count 1…\(AlexNet.maxClasses)")
        }
        let model = variant.withClasses(classes)
        if let expectedVariant, expectedVariant != name {
            throw LoadError(
                path: path, problem: "the file holds variant '\(name)', expected '\(expectedVariant)'",
                belongsToAnotherRun: true)
        }
        if let recorded = meta["parameters"], Int(recorded) != model.parameterCount {
            throw LoadError(
                path: path,
                problem: "metadata parameters '\(recorded)' is not variant \(name)'s \(model.parameterCount)")
        }
        let arena = model.makeArena()
        for view in arena.views {
            guard let shape = file.shapes[view.name] else {
                throw LoadError(path: path, problem: "missing tensor \(view.name) of variant \(name)")
            }
            guard shape == view.shape else {
                throw LoadError(
                    path: path,
                    problem:
                        "tensor \(view.name) has shape \(shape), variant \(name) (groups \(groups)) expects \(view.shape)"
                )
            }
            try file.read(view.name, into: arena.values(of: view))
            if let bad = arena.values(of: view).firstIndex(where: { !$0.isFinite }) {
                throw LoadError(
                    path: path,
                    problem:
                        "tensor \(view.name) holds a non-finite value (\(arena.values(of: view)[bad]) at element \(bad)): the run that wrote it diverged; a model must hold finite weights"
                )
            }
        }
        let unexpected = Set(
            file.shapes.keys.filter { name in !Checkpoint.statePrefixes.contains { name.hasPrefix($0) } }
        )
        .subtracting(arena.views.map(\.name))
        guard unexpected.isEmpty else {
            throw LoadError(path: path, problem: "tensors \(unexpected.sorted()) do not belong to variant \(name)")
        }
        let channels = model.inputShape[0]
        guard let mean = parseArray(meta["normalization_mean"]), let std = parseArray(meta["normalization_std"]),
            mean.count == channels, std.count == channels, mean.allSatisfy(\.isFinite),
            std.allSatisfy({ $0.isFinite && $0 > 0 })
        else {
            throw LoadError(
                path: path,
                problem: "metadata normalization_mean/normalization_std must be \(channels) finite value(s), std > 0")
        }
        if let text = meta["class_names"] {
            guard let names = try? JSONDecoder().decode([String].self, from: Data(text.utf8)),
                (1...classes).contains(names.count)
            else {
                throw LoadError(
                    path: path, problem: "metadata class_names is not a JSON array of 1…\(classes) strings")
            }
        }
        let normalization = Normalization(mean: mean, std: std)
        return Loaded(
            model: model, groups: groups, arena: arena, normalization: normalization, metadata: meta, file: file)
    }

    static func jsonArray(_ values: [Float]) -> String {
        "[" + values.map { "\($0)" }.joined(separator: ",") + "]"
    }

    static func parseArray(_ text: String?) -> [Float]? {
        guard let text, let data = text.data(using: .utf8),
            let array = try? JSONSerialization.jsonObject(with: data) as? [NSNumber]
        else { return nil }
        return array.map { $0.floatValue }
    }
}
