import Compute
import Foundation
import Timing

/// The progress lines and metrics records of a training run (single-process or across ranks): a line and a
/// `step` record every `logEvery` steps with the window's mean loss and throughput, and one per evaluation.
public final class TrainingProgress {
    public let totalSteps: Int
    /// Examples per step (over every rank).
    public let imagesPerStep: Int
    public let logEvery: Int
    private let metrics: MetricsLog
    private let output: (String) -> Void
    /// Fields added to every `step` record (for example the number of ranks).
    private let extraFields: [String: Any]
    public let start = monotonicSeconds()
    private var windowLoss = 0.0, windowSteps = 0
    private var windowStart: Double
    /// The mean loss of the last logged window.
    public private(set) var lastLoss = Double.nan

    /// One logged window of steps, as the metrics file records it.
    struct Window {
        /// Steps done (1-based: the window's last).
        public var step: Int
        public var epoch: Int
        /// The window's mean loss.
        public var loss: Double
        /// The base learning rate.
        public var rate: Float
        public var imagesPerSecond: Double
    }

    /// Called after each window's record (rank 0's TensorBoard log).
    var windowObserver: ((Window) throws -> Void)?
    /// Called after each evaluation's record with the split, the step and the figures.
    var evaluationObserver: ((String, Int, EvaluationResult) throws -> Void)?

    public init(
        totalSteps: Int, imagesPerStep: Int, logEvery: Int, metrics: MetricsLog,
        extraFields: [String: Any] = [:], output: @escaping (String) -> Void
    ) {
        self.totalSteps = totalSteps
        self.imagesPerStep = imagesPerStep
        self.logEvery = logEvery
        self.metrics = metrics
        self.extraFields = extraFields
        self.output = output
        windowStart = start
    }

    /// A free-form line.
    public func say(_ line: String) { output(line) }

    /// Records a finished step (1-based `step`) and logs the window when it is due.
    public func stepFinished(step: Int, epoch: Int, loss: Double, rate: Float) throws {
        windowLoss += loss
        windowSteps += 1
        guard step % logEvery == 0 || step == totalSteps else { return }
        let now = monotonicSeconds()
        let imagesPerSecond = Double(windowSteps * imagesPerStep) / (now - windowStart)
        lastLoss = windowLoss / Double(windowSteps)
        let eta = Double(totalSteps - step) * Double(imagesPerStep) / imagesPerSecond
        output(
            String(
                format: "step %d/%d  epoch %d  loss %.4f  lr %g  %.0f images/s  ETA %@",
                step, totalSteps, epoch + 1, lastLoss, rate, imagesPerSecond, formatDuration(eta)))
        var record: [String: Any] = [
            "event": "step", "step": step, "epoch": epoch + 1, "loss": lastLoss,
            "learning_rate": Double(rate), "images_per_second": imagesPerSecond, "elapsed_seconds": now - start,
        ]
        record.merge(extraFields) { old, _ in old }
        try metrics.record(record)
        try windowObserver?(
            Window(step: step, epoch: epoch + 1, loss: lastLoss, rate: rate, imagesPerSecond: imagesPerSecond))
        windowLoss = 0
        windowSteps = 0
        windowStart = monotonicSeconds()
    }

    /// Runs an evaluation outside the throughput window and records its result.
    public func evaluation(
        _ split: String, step: Int, epoch: Int, _ evaluate: () throws -> EvaluationResult
    ) throws -> EvaluationResult {
        let evaluationStart = monotonicSeconds()
        let r = try evaluate()
        output(
            String(
                format: "%@ after epoch %d: top-1 error %.2f%% (accuracy %.2f%%), top-5 error %.2f%%, loss %.4f",
                split, epoch, r.top1Error * 100, r.top1Accuracy * 100, r.top5Error * 100, r.meanLoss))
        try metrics.record([
            "event": "evaluation", "split": split, "step": step, "epoch": epoch, "examples": r.examples,
            "top1_error": r.top1Error, "top5_error": r.top5Error, "top1_accuracy": r.top1Accuracy,
            "loss": r.meanLoss, "elapsed_seconds": monotonicSeconds() - start,
        ])
        try evaluationObserver?(split, step, r)
        windowStart += monotonicSeconds() - evaluationStart
        return r
    }

    public var elapsed: Double { monotonicSeconds() - start }
}
