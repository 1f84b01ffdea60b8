import ArgumentParser
import Compute
import Foundation
import Training

struct Describe: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a variant's layers, output shapes, parameter counts and multiply-adds.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Also print the parallel plan for this many ranks.") var ranks: Int?
    @Option(help: "With --ranks: hybrid (conv data-parallel, FC sharded) or data (everything replicated).")
    var parallel: ParallelPlan.Parallelism = .hybrid
    @Option(
        help: ArgumentHelp(
            "With --ranks and hybrid: G, the ranks sharing each FC layer (a divisor of --ranks; default all).",
            valueName: "G"))
    var fcGroupSize: Int?
    @Option(help: "With --ranks: how the FC stack is fed (a, b or c; see `train --help`).")
    var scheme: ParallelPlan.Scheme = .a
    @Option(help: "With --ranks: images per rank per step.") var batchSize = 128
    @Option(help: "With --ranks: the rank whose share is printed.") var rank = 0

    func validate() throws {
        if let ranks {
            guard ranks >= 1 else { throw ValidationError("--ranks must be at least 1, got \(ranks)") }
            guard (0..<ranks).contains(rank) else {
                throw ValidationError("--rank must be in 0..<\(ranks), got \(rank)")
            }
        }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        if fcGroupSize != nil && (ranks == nil || parallel == .data) {
            throw ValidationError("--fc-group-size applies with --ranks and --parallel hybrid")
        }
        if let ranks { try layout.validate(ranks: ranks) }
    }

    func run() throws {
        let model = modelOptions.model
        print(
            "\(model.name)\(modelOptions.groups > 1 ? " (groups \(modelOptions.groups))" : ""): input \(model.inputShape.map(String.init).joined(separator: "×")), \(model.classes) classes"
        )
        print(pad("layer", 8) + pad("output", 16) + lpad("parameters", 14) + lpad("MMAC/image", 14))
        for row in model.layers {
            let shape = row.outputShape.map(String.init).joined(separator: "×")
            print(
                pad(row.stage.name, 8) + pad(shape, 16) + lpad(row.parameters > 0 ? grouped(row.parameters) : "", 14)
                    + lpad(row.multiplyAdds > 0 ? String(format: "%.1f", row.multiplyAdds / 1e6) : "", 14))
        }
        let conv = model.layers.prefix(model.features.count).reduce(0) { $0 + $1.parameters }
        print(
            "total parameters: \(grouped(model.parameterCount)) (conv \(grouped(conv)), fc \(grouped(model.parameterCount - conv)))"
        )
        print(String(format: "forward multiply-adds per image: %.3f G", model.multiplyAdds / 1e9))
        if let ranks { print(layout.plan(ranks: ranks, rank: rank).summary.joined(separator: "\n")) }
    }

    /// The run `--ranks` describes, resolved as `train` resolves it.
    private var layout: ParallelTrainingConfiguration {
        var training = TrainingConfiguration(model: modelOptions.model)
        training.batchSize = batchSize
        var layout = ParallelTrainingConfiguration(training: training)
        layout.parallelism = parallel
        layout.scheme = scheme
        layout.fullyConnectedGroupSize = fcGroupSize
        return layout
    }

    private func pad(_ s: String, _ n: Int) -> String {
        s.padding(toLength: max(n, s.count + 1), withPad: " ", startingAt: 0)
    }
    private func lpad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
}
