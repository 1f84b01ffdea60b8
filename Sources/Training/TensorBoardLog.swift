import Collectives
import Foundation
import TensorBoard

/// Rank 0's TensorBoard log of a run (`train --tensorboard DIR`): the scalars a person watching the run
/// looks at, by the global step (steps done, as in the metrics file), and the guards' events as text.
///
/// ## Note [TensorBoard tags]
///
/// Grouped as TensorBoard users know them (the part before the first `/` is the dashboard's section):
///
/// - `train/loss` (the logged window's mean), `train/learning_rate` (the conv layers'; `train/learning_rate_fc`
///   beside it when the FC layers' differs), every `--log-every` steps;
/// - `throughput/images_per_second` (every rank's images);
/// - `time/step_seconds`, `time/compute_seconds`, `time/exposed_communication_seconds`: rank 0's means over
///   the window (`StepPhases`: compute is its compute spans, exposed communication the time it was blocked);
/// - `communication/bytes_sent_per_rank` (rank 0's mean per step, Note [bytes sent]) and
///   `communication/compression_ratio` (the plan's fp32 bytes over the bytes sent), when there are ranks;
/// - `eval/<split>/top1_accuracy`, `eval/<split>/top5_accuracy`, `eval/<split>/loss` at each evaluation;
/// - text under `events/`: `events/non_finite_guard`, `events/replica_check`, `events/watchdog` (its warnings and
///   abort, from the watchdog's thread) and `events/stop` (a signal), at the step they happened.
///
/// ## Note [resuming a log]
///
/// A run resumed at step S continues the logs of the run that wrote the checkpoint: of what is already
/// there it keeps the step windows up to S and the evaluations before S (a checkpoint at an epoch's last step
/// is evaluated again by the resumed run), and drops the rest (what a run wrote after its last checkpoint
/// before it was killed); the metrics file is rewritten atomically to that, the event files trimmed the same
/// way and a new one started with a `SessionLog` START at S + 1 for a TensorBoard already watching
/// (Note [event files]). Each step is then logged once across any number of resumes.
final class TensorBoardLog {
    static let evaluationPrefix = "eval/"
    private let writer: EventFileWriter
    /// The FC layers' learning rate over the conv layers'.
    private let fullyConnectedFactor: Float
    private let convolutionalFactor: Float
    private let ranks: Int
    /// The step the notices of other threads are filed under.
    private let currentStep = StepCell()

    /// Opens the log in `directory`; `resumedAt`: the step a resumed run continues from.
    init(
        directory: String, resumedAt: Int?, factors: (convolutional: Float, fullyConnected: Float), ranks: Int,
        notices: RunNotices
    ) throws {
        if let step = resumedAt {
            try EventFiles.trim(directory: directory) { TensorBoardLog.keep(step: $0, tag: $1, resumedAt: step) }
        }
        writer = try EventFileWriter(directory: directory, purgeFrom: resumedAt.map { $0 + 1 })
        convolutionalFactor = factors.convolutional
        fullyConnectedFactor = factors.fullyConnected
        self.ranks = ranks
        notices.listen { [writer, currentStep] kind, message in
            let step = currentStep.value
            try? writer.text("events/watchdog", kind == .watchdogAbort ? "abort: \(message)" : message, step: step)
            try? writer.flush()
        }
        try writer.flush()
    }

    /// Note [resuming a log]: whether a value of `step` stays when a run resumes at `resumedAt`.
    static func keep(step: Int, tag: String, resumedAt: Int) -> Bool {
        ResumedLog.keeps(step: step, evaluation: tag.hasPrefix(evaluationPrefix), resumedAt: resumedAt)
    }

    /// A logged window and what rank 0 measured over its steps.
    func window(_ w: TrainingProgress.Window, _ f: StepWindowFigures) throws {
        currentStep.value = w.step
        var values: [(tag: String, value: Double)] = [
            ("train/loss", w.loss), ("train/learning_rate", Double(w.rate * convolutionalFactor)),
            ("throughput/images_per_second", w.imagesPerSecond),
        ]
        if fullyConnectedFactor != convolutionalFactor {
            values.append(("train/learning_rate_fc", Double(w.rate * fullyConnectedFactor)))
        }
        if f.steps > 0 {
            let n = Double(f.steps)
            values += [
                ("time/step_seconds", f.stepSeconds / n), ("time/compute_seconds", f.computeSeconds / n),
                ("time/exposed_communication_seconds", f.exposedSeconds / n),
            ]
            if ranks > 1 {
                values.append(("communication/bytes_sent_per_rank", Double(f.bytesSent) / n))
                if f.bytesSent > 0 {
                    values.append(("communication/compression_ratio", Double(f.plannedBytes) / Double(f.bytesSent)))
                }
            }
        }
        // Written through to the kernel (a TensorBoard reads it at once); synced at evaluations and events.
        try writer.scalars(values, step: w.step)
    }

    func evaluation(_ split: String, step: Int, _ r: EvaluationResult) throws {
        let prefix = "\(TensorBoardLog.evaluationPrefix)\(split)/"
        try writer.scalars(
            [
                (prefix + "top1_accuracy", r.top1Accuracy), (prefix + "top5_accuracy", 1 - r.top5Error),
                (prefix + "loss", r.meanLoss),
            ], step: step)
        try writer.flush()
    }

    /// A guard's event (`events/<name>`) at `step`.
    func event(_ name: String, _ text: String, step: Int) throws {
        try writer.text("events/\(name)", text, step: step)
        try writer.flush()
    }
}

/// Note [resuming a log], written once for the metrics file and the event files.
enum ResumedLog {
    /// Whether a record at `step` (an evaluation's or a step window's) stays when a run resumes at `resumedAt`.
    static func keeps(step: Int, evaluation: Bool, resumedAt: Int) -> Bool {
        evaluation ? step < resumedAt : step <= resumedAt
    }
}

/// What rank 0 measured over the steps of a logged window, for `TensorBoardLog`.
struct StepWindowFigures {
    var steps = 0
    var stepSeconds = 0.0
    var computeSeconds = 0.0
    var exposedSeconds = 0.0
    /// Bytes sent and the plan's fp32 bytes for the same steps.
    var bytesSent = 0
    var plannedBytes = 0

    mutating func add(_ phases: StepPhases, bytesSent: Int, plannedBytes: Int) {
        steps += 1
        stepSeconds += phases.stepSeconds
        computeSeconds += phases.convForward + phases.convBackward + phases.fullyConnected + phases.update
        exposedSeconds += phases.communicationExposed
        self.bytesSent += bytesSent
        self.plannedBytes += plannedBytes
    }
}

/// The step a log files other threads' notices under.
private final class StepCell: @unchecked Sendable {
    private let lock = NSLock()
    private var step = 0
    var value: Int {
        get { lock.withLock { step } }
        set { lock.withLock { step = newValue } }
    }
}
