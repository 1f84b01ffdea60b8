import ArgumentParser
import Collectives
import Launch
import Training

/// How K ranks share the work: `--simulate`, `--parallel`, `--scheme`, `--fc-update`, `--lr-scaling`,
/// `--codec`, `--bucket-elements`, `--no-overlap`.
struct ParallelOptions: ParsableArguments {
    @Option(help: "Run K ranks as threads of this process (the same results as mpirun -n K).")
    var simulate: Int?
    @Option(
        help:
            "hybrid (conv data-parallel, FC sharded by output neurons), data (every layer replicated, the whole gradient allreduced: the Horovod/DDP baseline) or auto (train only: the ranks measure their compute and links for a few seconds and the planner picks G and the scheme, as `alexnet-dist plan` would)."
    )
    var parallel: ParallelChoice = .hybrid
    @Option(
        help: ArgumentHelp(
            "Hybrid: G, the ranks sharing each FC layer, a divisor of K (default K). Groups of G consecutive ranks shard the FC layers and run the scheme among themselves; the K/G groups are data-parallel, each FC shard's gradient summed across them (with --codec) and the FC layers updated once per step.",
            valueName: "G"))
    var fcGroupSize: Int?
    @Option(
        help:
            "How the FC stack gets its group's examples (G = K by default): a (one all-gather of all G·B), b (G rounds, one rank's B each, the next overlapping the current) or c (G rounds mixing B/G of every rank)."
    )
    var scheme: ParallelPlan.Scheme = .b
    @Option(
        help:
            "When the FC shards are updated: sub-batch (after every B examples in schemes b and c, the note's (128K, 128)) or step (once per step: the same as one process with batch K·B)."
    )
    var fcUpdate: ParallelTrainingConfiguration.FullyConnectedUpdate = .subBatch
    @Option(
        help:
            "Learning-rate factor for layers that see K·B examples per update (conv always; FC with --fc-update step or scheme a): linear (×K), sqrt (×√K) or none."
    )
    var lrScaling: ParallelTrainingConfiguration.LearningRateScaling = .linear
    @Option(
        help: "Codec of the conv gradient allreduce (\(Codec.grammar)).",
        transform: { try Codec(parsing: $0) })
    var codec: Codec = .none
    @Option(help: "Gradient elements per allreduce bucket (buckets hold whole layers).")
    var bucketElements: Int = GradientBuckets.defaultBucketElements
    @Flag(inversion: .prefixedNo, help: "Overlap collectives with compute on transfer threads.")
    var overlap: Bool = true
    @Flag(help: "Progress lines from every rank, not only rank 0.") var verboseRanks = false

    func validate() throws {
        if let simulate, !(1...64).contains(simulate) {
            throw ValidationError("--simulate must be between 1 and 64, got \(simulate)")
        }
        do { _ = try launch } catch { throw ValidationError("\(error)") }
        if let fcGroupSize, fcGroupSize < 1 || parallel != .hybrid {
            throw ValidationError(
                "--fc-group-size must be at least 1 and applies to --parallel hybrid, got \(fcGroupSize)")
        }
        guard bucketElements >= 1 else {
            throw ValidationError("--bucket-elements must be at least 1, got \(bucketElements)")
        }
    }

    /// One process, K threads, or this process's rank of an MPI job.
    var launch: Launch { get throws { try Launch(simulate: simulate) } }

    func configuration(_ training: TrainingConfiguration) -> ParallelTrainingConfiguration {
        var c = ParallelTrainingConfiguration(training: training)
        // auto starts as the hybrid; the planner replaces G and the scheme once the ranks have measured.
        c.parallelism = parallel == .data ? .data : .hybrid
        c.fullyConnectedGroupSize = fcGroupSize
        c.scheme = scheme
        c.fullyConnectedUpdate = fcUpdate
        c.learningRateScaling = lrScaling
        c.codec = codec
        c.bucketElements = bucketElements
        c.verboseRanks = verboseRanks
        return c
    }
}

/// `--parallel`: the two layouts, or the planner's choice between every G (Note [choosing a layout]).
enum ParallelChoice: String, ExpressibleByArgument, CaseIterable {
    case hybrid, data, auto
}

extension ParallelTrainingConfiguration.FullyConnectedUpdate: ExpressibleByArgument {}
extension ParallelTrainingConfiguration.LearningRateScaling: ExpressibleByArgument {}
