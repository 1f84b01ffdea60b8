import Collectives
import Compute

/// A run across K ranks: the recipe (with `batchSize` per rank) plus how the ranks share
/// the work.
public struct ParallelTrainingConfiguration: Sendable {
    /// When the FC shards are updated in the hybrid schemes.
    public enum FullyConnectedUpdate: String, Sendable, CaseIterable {
        /// Once per step, from the gradient of the whole step's K·B examples: the same arithmetic as one
        /// process training with batch K·B.
        case step
        /// After every sub-batch the FC stack sees (B examples in schemes b and c): the 2014 note's
        /// "(128K, 128)" setting.
        case subBatch = "sub-batch"
    }

    /// How a learning rate grows with the batch a layer sees when that batch is K times the per-rank batch.
    public enum LearningRateScaling: String, Sendable, CaseIterable {
        /// ×K (the 2014 note found it worked best).
        case linear
        /// ×√K (the theory's suggestion).
        case sqrt
        /// Unchanged.
        case none

        public func factor(_ ranks: Int) -> Float {
            switch self {
            case .linear: return Float(ranks)
            case .sqrt: return Float(ranks).squareRoot()
            case .none: return 1
            }
        }
    }

    /// The recipe; `batchSize` is per rank, `learningRate` the rate for a batch of that size.
    public var training: TrainingConfiguration
    /// `.data` replicates every layer (G = 1); `.hybrid` shards the FC layers over groups of
    /// `fullyConnectedGroupSize` ranks.
    public var parallelism: ParallelPlan.Parallelism = .hybrid
    /// G under hybrid parallelism: the ranks sharing each FC layer, a divisor of K (nil: all K ranks).
    public var fullyConnectedGroupSize: Int?
    public var scheme: ParallelPlan.Scheme = .b
    public var fullyConnectedUpdate: FullyConnectedUpdate = .subBatch
    public var learningRateScaling: LearningRateScaling = .linear
    /// The codec of the replicated layers' gradient allreduce.
    public var codec: Codec = .none
    /// Gradient elements per allreduce bucket (at least; buckets hold whole layers).
    public var bucketElements = GradientBuckets.defaultBucketElements
    /// Run collectives on transfer threads, overlapping compute (needs MPI_THREAD_MULTIPLE under MPI).
    public var overlap = true
    /// Progress lines from every rank, not only rank 0.
    public var verboseRanks = false
    /// Steps between comparisons of the ranks' replicated layers (Note [replica check]; also before every
    /// checkpoint).
    public var replicaCheckEvery = 100
    /// Faults injected on purpose, for tests of the guards (hidden flags).
    public var faults = InjectedFaults()
    /// How the layout was chosen by `--parallel auto` (nil: as given): recorded in the metrics and the files.
    public var layoutChoice: LayoutChoice?

    /// The planner's choice of layout (Note [choosing a layout]) and what it predicted, as the run records it.
    public struct LayoutChoice: Sendable, Equatable {
        /// Predicted seconds per step and bytes a rank sends per step.
        public var predictedStepSeconds: Double
        public var predictedBytesPerRank: Double
        /// The planner's sentence on why.
        public var reason: String

        public init(predictedStepSeconds: Double, predictedBytesPerRank: Double, reason: String) {
            self.predictedStepSeconds = predictedStepSeconds
            self.predictedBytesPerRank = predictedBytesPerRank
            self.reason = reason
        }
    }

    /// Faults a run can be told to commit, each at one rank and step (1-based, as progress lines count).
    public struct InjectedFaults: Sendable, Equatable {
        /// The rank stops doing anything at the start of the step, as a stopped or hung process would.
        public var stall: (rank: Int, step: Int)?
        /// The rank's first replicated weight is nudged after the step's update.
        public var replicaDivergence: (rank: Int, step: Int)?
        /// The rank's first FC weight (of its shard) is nudged after the step's update.
        public var shardDivergence: (rank: Int, step: Int)?
        public init() {}
        public static func == (a: Self, b: Self) -> Bool {
            a.stall?.rank == b.stall?.rank && a.stall?.step == b.stall?.step
                && a.replicaDivergence?.rank == b.replicaDivergence?.rank
                && a.replicaDivergence?.step == b.replicaDivergence?.step
                && a.shardDivergence?.rank == b.shardDivergence?.rank
                && a.shardDivergence?.step == b.shardDivergence?.step
        }
    }

    public init(training: TrainingConfiguration) {
        self.training = training
    }

    /// The learning-rate multipliers of the replicated (conv) and the sharded (FC) layers under `plan`.
    /// Replicated layers always see K·B examples per update; so do the FC layers when updated once per step,
    /// and B when updated per sub-batch (`plan.fullyConnectedUpdate`).
    public func learningRateFactors(_ plan: ParallelPlan) -> (convolutional: Float, fullyConnected: Float) {
        let scaled = learningRateScaling.factor(plan.ranks)
        return (scaled, plan.fullyConnectedUpdate == .subBatch ? 1 : scaled)
    }

    /// The resolved plan of rank `rank` of `ranks` (Note [one resolved plan]): G is 1 under `.data`, else
    /// `fullyConnectedGroupSize` or all the ranks; the codec, the FC update and overlap are those the layout
    /// allows.
    public func plan(ranks: Int, rank: Int) -> ParallelPlan {
        let groupSize = parallelism == .data ? 1 : fullyConnectedGroupSize ?? ranks
        return ParallelPlan(
            model: training.model, ranks: ranks, groupSize: groupSize, rank: rank,
            scheme: scheme, batchPerRank: training.batchSize, bucketElements: bucketElements, codec: codec,
            fullyConnectedUpdate: fullyConnectedUpdate, overlap: overlap)
    }

    /// Checks that the ranks can share the work as asked: G divides K; a group of G > 1 needs at most as many
    /// ranks as the narrowest FC layer has outputs, and scheme (c) at least one example per rank and round.
    public func validate(ranks: Int) throws {
        if parallelism == .hybrid, let g = fullyConnectedGroupSize, g < 1 || ranks % g != 0 {
            throw TrainingError(
                "--fc-group-size \(g) must divide the \(ranks) ranks (groups of G consecutive ranks share the FC layers)"
            )
        }
        let plan = plan(ranks: ranks, rank: 0)
        let g = plan.groupSize
        guard g > 1 else { return }
        let narrowest = plan.fullyConnected.min { $0.outputs < $1.outputs }!
        guard g <= narrowest.outputs else {
            throw TrainingError(
                "\(g) ranks cannot share \(narrowest.name)'s \(narrowest.outputs) outputs: hybrid parallelism needs at most \(narrowest.outputs) ranks per group for \(training.model.name) (or use --parallel data)"
            )
        }
        if plan.scheme == .c && training.batchSize < g {
            throw TrainingError(
                "scheme (c) splits each rank's batch into \(g) parts: --batch-size \(training.batchSize) must be at least the \(g) ranks"
            )
        }
    }
}
