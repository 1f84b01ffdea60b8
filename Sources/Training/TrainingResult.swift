import Compute

/// What a finished run reports.
public struct TrainingResult: Sendable {
    public init(
        steps: Int, epochs: Int, seconds: Double, finalLoss: Double, test: EvaluationResult,
        validation: EvaluationResult?, position: TrainingPosition
    ) {
        self.position = position
        self.steps = steps
        self.epochs = epochs
        self.seconds = seconds
        self.finalLoss = finalLoss
        self.test = test
        self.validation = validation
    }

    /// Where the run stopped (what its last checkpoint records).
    public var position: TrainingPosition
    public var steps: Int
    public var epochs: Int
    public var seconds: Double
    public var finalLoss: Double
    public var test: EvaluationResult
    public var validation: EvaluationResult?
    /// Why the run stopped before its end (a signal, Note [stopping on a signal]); nil for a finished run,
    /// whose `test` figures are then the final evaluation.
    public var stopped: String?
}
