import Compute
import Datasets

/// Test-set figures: top-1 and top-5 error and the mean cross-entropy.
public struct EvaluationResult: Sendable, Codable, Equatable {
    public var examples: Int
    public var top1Error: Double
    public var top5Error: Double
    public var meanLoss: Double

    public var top1Accuracy: Double { 1 - top1Error }
}
