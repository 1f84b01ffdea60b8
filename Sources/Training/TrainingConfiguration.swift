import Compute
import Datasets

/// The recipe of a run: the model, the optimiser and its schedule, the data's augmentation, and where its
/// files go. Across K ranks, `batchSize` is per rank (`ParallelTrainingConfiguration` adds how the ranks
/// share the work).
public struct TrainingConfiguration: Sendable {
    public var model: AlexNet
    public var groups = 1
    public var initialization: Initialization
    public var batchSize = 128
    public var epochs = 1
    /// Stop after this many steps even if epochs remain (nil: run every epoch).
    public var maxSteps: Int?
    public var learningRate: Float = 0.01
    public var momentum: Float = 0.9
    public var weightDecay: Float = 0.0005
    public var schedule: LearningRateSchedule = .constant
    public var seed: UInt64 = 1
    public var augmentation: Augmentation = .none
    /// Batches made ahead of the step (and of evaluation) on a background thread (Note [prefetching]).
    public var prefetch = 2
    /// Examples held out from the end of the training set to drive the plateau schedule (0: none).
    public var validationCount = 0
    /// Steps between progress lines and metrics records.
    public var logEvery = 50
    /// Epochs between evaluations on the test set (the last epoch is always evaluated).
    public var evaluateEvery = 1
    public var metricsPath: String?
    /// The directory of rank 0's TensorBoard event files (Note [TensorBoard tags]), or nil for none.
    public var tensorBoardPath: String?
    public var outputPath: String?
    /// The template of the run's checkpoint files (`CheckpointSeries`: model, momentum, position), written
    /// atomically every `checkpointEvery` steps, on a stop and at the end.
    public var checkpointPath: String?
    /// Steps between checkpoints (nil: only at the end).
    public var checkpointEvery: Int?
    /// Checkpoints of the series kept on disk (the newest).
    public var keepCheckpoints = 2
    /// Where to continue from.
    public var resume: ResumeSource?

    /// A checkpoint to continue from.
    public enum ResumeSource: Sendable, Equatable {
        /// This file.
        case file(String)
        /// The newest checkpoint of the run's series that loads (`--resume auto`); none: a fresh start.
        case newest
    }
    /// Class names in label order, recorded in the model file (JPEG folders).
    public var classNames: [String]?

    public init(model: AlexNet) {
        self.model = model
        initialization = model.defaultInitialization
    }
}
