import Compute
import Datasets
import Foundation

/// Where a run stands: what a checkpoint must record, beside the weights and momentum, for training to
/// continue exactly (the epoch's order, dropout masks and augmentation are functions of the seed, the
/// epoch, the step and the example).
public struct TrainingPosition: Sendable, Equatable, Codable {
    /// Steps taken.
    public var step = 0
    /// The current epoch (0-based).
    public var epoch = 0
    /// Examples of this epoch's order already used (a multiple of the step size it was trained with).
    public var exampleInEpoch = 0
    public var scheduler = LearningRateScheduler.State()

    public init() {}
}
