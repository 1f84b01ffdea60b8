import Compute
import Datasets
import Foundation

/// A training checkpoint: one safetensors file holding the whole model under the model file's tensor names
/// (so `evaluate` reads it as a model), the momentum of every parameter as `momentum.<name>`, and the
/// training position in the metadata (`checkpoint`, JSON). Written atomically; a checkpoint written by K
/// ranks holds the gathered FC layers and resumes on any number of ranks or in one process. Runs whose
/// gradient allreduce uses error feedback (`topk`) also store every rank's residual of every parameter it
/// allreduces, as `topk_residual.r<rank>.<name>`, and their number of ranks in the metadata
/// (`topk_residual_ranks`). A rank's residual of an FC shard (FC layers sharded within groups of
/// `fc_group_size` ranks, 1 < G < K) holds its rows only (`ParallelPlan.rows` at its position in the group).
public enum Checkpoint {
    public static let momentumPrefix = "momentum."
    public static let residualPrefix = "topk_residual."
    /// Prefixes of the optimiser state's tensors, which are not model parameters.
    public static let statePrefixes = [momentumPrefix, residualPrefix]

    /// The name under which rank `rank`'s residual of parameter `name` is stored.
    public static func residualName(rank: Int, parameter name: String) -> String {
        "\(residualPrefix)r\(rank).\(name)"
    }
    /// The plateau schedule's best error starts at infinity, which JSON cannot hold as a number.
    private static let nonConforming = JSONEncoder.NonConformingFloatEncodingStrategy.convertToString(
        positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")

    /// Writes the model in `arena` and the momentum `velocity` (both laid out as `model.makeArena()`).
    public static func save(
        _ path: String, model: AlexNet, groups: Int, arena: ParameterArena, velocity: UnsafeBufferPointer<Float>,
        normalization: Normalization, classNames: [String]?, position: TrainingPosition, seed: UInt64,
        extra: [String: String] = [:], residuals: (ranks: Int, tensors: [SafeTensors.Entry])? = nil
    ) throws {
        precondition(velocity.count == arena.count, "checkpoint: momentum does not match the arena's layout")
        let momentum = arena.views.map {
            SafeTensors.Entry(
                name: momentumPrefix + $0.name, shape: $0.shape,
                values: UnsafeBufferPointer(rebasing: velocity[$0.range]))
        }
        var metadata = extra
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.nonConformingFloatEncodingStrategy = nonConforming
        metadata["checkpoint"] = String(decoding: try encoder.encode(position), as: UTF8.self)
        metadata["seed"] = String(seed)
        metadata["step"] = String(position.step)
        if let residuals { metadata["topk_residual_ranks"] = String(residuals.ranks) }
        try ModelFile.save(
            path, model: model, groups: groups, arena: arena, normalization: normalization, classNames: classNames,
            extra: metadata, extraTensors: momentum + (residuals?.tensors ?? []))
    }

    /// A checkpoint read back and checked against the run that resumes it.
    public struct Loaded {
        public let model: ModelFile.Loaded
        /// Momentum, laid out as `model.arena`.
        public let velocity: [Float]
        public let position: TrainingPosition
        /// The number of ranks whose error-feedback residuals the checkpoint holds (0: none).
        public let residualRanks: Int
        /// The parameters whose residuals it holds (the same for every rank).
        public let residualParameters: Set<String>
        /// G of the run that wrote the residuals: 1 when it allreduced the FC layers whole (data
        /// parallelism), its `fc_group_size` when it summed FC shards across groups (their residuals are the
        /// shards' rows), K when the FC layers were sharded over all ranks (no FC residuals).
        public let residualGroupSize: Int

        /// The rows (first dimension) of the whole model's parameter `view` that rank `rank`'s residual holds.
        public func residualRows(rank: Int, view: ParameterView) -> Range<Int> {
            Checkpoint.residualRows(rank: rank, groupSize: residualGroupSize, view: view, model: model.model)
        }

        /// Rank `rank`'s residual of the whole model's parameter `view`: the rows it holds and their values.
        public func readResidual(rank: Int, view: ParameterView) throws -> (rows: Range<Int>, values: [Float]) {
            let rows = residualRows(rank: rank, view: view)
            var values = [Float](repeating: 0, count: rows.count * view.shape.dropFirst().reduce(1, *))
            try values.withUnsafeMutableBufferPointer {
                try model.file.read(Checkpoint.residualName(rank: rank, parameter: view.name), into: $0)
            }
            return (rows, values)
        }
    }

    /// The rows of the whole model's parameter `view` whose residual rank `rank` keeps: all of them, but for
    /// an FC layer sharded within groups of `groupSize` (the rows at the rank's position).
    static func residualRows(rank: Int, groupSize g: Int, view: ParameterView, model: AlexNet) -> Range<Int> {
        let whole = 0..<view.shape[0]
        guard g > 1, !model.features.contains(where: { $0.name == view.layer }) else { return whole }
        return ParallelPlan.rows(view.shape[0], ranks: g, rank: rank % g)
    }

    /// Reads a checkpoint for a run of `configuration`: the variant, groups and seed must be the run's.
    public static func load(_ path: String, for configuration: TrainingConfiguration) throws -> Loaded {
        let c = configuration
        let loaded = try ModelFile.load(path, expectedVariant: c.model.name)
        func problem(_ text: String) -> ModelFile.LoadError { ModelFile.LoadError(path: path, problem: text) }
        func anotherRun(_ text: String) -> ModelFile.LoadError {
            ModelFile.LoadError(path: path, problem: text, belongsToAnotherRun: true)
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        guard loaded.groups == c.groups else {
            throw anotherRun("the checkpoint has --groups \(loaded.groups), the run \(c.groups)")
        }
        guard loaded.model.classes == c.model.classes else {
            throw anotherRun(
                "the checkpoint's model has \(loaded.model.classes) classes, the run's \(c.model.classes) (--classes \(loaded.model.classes) continues it)"
            )
        }
        guard let json = loaded.metadata["checkpoint"],
            let position = try? decoder.decode(TrainingPosition.self, from: Data(json.utf8))
        else {
            throw problem("not a checkpoint (a model file without training position); train from it is not supported")
        }
        guard position.step >= 0, position.epoch >= 0, position.exampleInEpoch >= 0 else {
            throw problem("metadata checkpoint has a negative step, epoch or example: \(json)")
        }
        guard loaded.metadata["seed"] == String(c.seed) else {
            throw anotherRun(
                "the checkpoint was trained with --seed \(loaded.metadata["seed"] ?? "?"); resume with the same seed (got \(c.seed))"
            )
        }
        var velocity = [Float](repeating: 0, count: loaded.arena.count)
        for view in loaded.arena.views {
            let name = momentumPrefix + view.name
            guard loaded.file.shapes[name] == view.shape else {
                throw problem(
                    "tensor \(name) is \(loaded.file.shapes[name].map { "\($0)" } ?? "missing"), expected \(view.shape)"
                )
            }
            try velocity.withUnsafeMutableBufferPointer {
                try loaded.file.read(name, into: UnsafeMutableBufferPointer(rebasing: $0[view.range]))
            }
            guard velocity[view.range].allSatisfy(\.isFinite) else {
                throw problem("tensor \(name) holds a non-finite value: a checkpoint must hold finite momentum")
            }
        }
        let residualRanks = try loaded.metadata["topk_residual_ranks"].map { text in
            guard let ranks = Int(text), ranks >= 1 else {
                throw problem("metadata topk_residual_ranks is '\(text)', expected a number of ranks ≥ 1")
            }
            return ranks
        }
        // Every rank of a resumed run reads this file: check the residuals' names here, so that all ranks
        // refuse a damaged file together rather than some of them waiting in a collective.
        var residualParameters: [Int: Set<String>] = [:]
        for name in loaded.file.shapes.keys where name.hasPrefix(residualPrefix) {
            let rest = name.dropFirst(residualPrefix.count)
            guard rest.hasPrefix("r"), let dot = rest.firstIndex(of: "."),
                let q = Int(rest[rest.index(after: rest.startIndex)..<dot]),
                (0..<(residualRanks ?? 0)).contains(q),
                loaded.arena.views.contains(where: { $0.name == rest[rest.index(after: dot)...] })
            else {
                throw problem(
                    "tensor \(name) is not the residual of a parameter of rank 0..<\(residualRanks ?? 0) (metadata topk_residual_ranks)"
                )
            }
            residualParameters[q, default: []].insert(String(rest[rest.index(after: dot)...]))
        }
        let parameters = residualParameters[0] ?? []
        if let ranks = residualRanks, let q = (0..<ranks).first(where: { residualParameters[$0] ?? [] != parameters }) {
            throw problem(
                "rank \(q)'s top-k residuals cover \((residualParameters[q] ?? []).count) parameters, rank 0's \(parameters.count): the checkpoint is incomplete"
            )
        }
        let ranks = residualRanks ?? Int(loaded.metadata["ranks"] ?? "") ?? 1
        let groupSize = try loaded.metadata["fc_group_size"].map { text in
            guard let g = Int(text), g > 1, g < ranks, ranks % g == 0 else {
                throw problem(
                    "metadata fc_group_size is '\(text)', expected a divisor G of the \(ranks) ranks (metadata \(residualRanks != nil ? "topk_residual_ranks" : "ranks")) with 1 < G < \(ranks)"
                )
            }
            return g
        }
        // Without fc_group_size the FC layers were replicated (their residuals are whole) or sharded over all
        // ranks (none).
        let fullyConnected = loaded.arena.views.filter { view in
            !loaded.model.features.contains { $0.name == view.layer }
        }
        let residualGroupSize =
            groupSize ?? (fullyConnected.contains { parameters.contains($0.name) } ? 1 : residualRanks ?? 1)
        // The residuals' shapes too, for the same reason: a shard's residual holds its rows.
        for q in 0..<(residualRanks ?? 0) {
            for view in loaded.arena.views where parameters.contains(view.name) {
                let name = residualName(rank: q, parameter: view.name)
                let rows = residualRows(rank: q, groupSize: residualGroupSize, view: view, model: loaded.model)
                let expected = [rows.count] + view.shape.dropFirst()
                guard loaded.file.shapes[name] == expected else {
                    throw problem("tensor \(name) is \(loaded.file.shapes[name]!), expected \(expected)")
                }
            }
        }
        return Loaded(
            model: loaded, velocity: velocity, position: position, residualRanks: residualRanks ?? 0,
            residualParameters: parameters, residualGroupSize: residualGroupSize)
    }
}
