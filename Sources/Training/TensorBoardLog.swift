import Collectives
import Compute
import Foundation
import TensorBoard

/// Rank 0's TensorBoard log of a run (`train --tensorboard DIR`): the scalars a person watching the run
/// looks at, by the global step (steps done, as in the metrics file), and the guards' events as text.
///
/// ## Note [TensorBoard tags]
///
/// Grouped as TensorBoard users know them (the part before the first `/` is the dashboard's section):
///
/// - `train/loss` (the logged window's mean), `train/learning_rate` (the rate the conv layers use, the base
///   rate scaled for K ranks; `train/learning_rate_fc` beside it when the FC layers' differs; the metrics file
///   records the base rate), every `--log-every` steps;
/// - `throughput/images_per_second` (every rank's images);
/// - `time/step_seconds`, `time/compute_seconds`, `time/exposed_communication_seconds`: rank 0's means over
///   the window (`StepPhases`: compute is its compute spans, exposed communication the time it was blocked;
///   from the step's batch in hand to its figures agreed, so without waiting for data, which images/s counts);
/// - `communication/bytes_sent_per_rank` (rank 0's mean per step, every channel, Note [bytes sent]) and
///   `communication/compression_ratio` (the gradients' fp32 bytes in the plan over the gradients' bytes sent:
///   1 without a codec), when there are ranks;
/// - `eval/<split>/top1_accuracy`, `eval/<split>/top5_accuracy`, `eval/<split>/loss` at each evaluation;
/// - text under `events/`: `events/non_finite_guard`, `events/replica_check`, `events/watchdog` (its warnings and
///   abort, from the watchdog's thread) and `events/stop` (a signal), at the step they happened.
///
/// ## Note [resuming a log]
///
/// A run resumed at step S continues the logs of the run that wrote the checkpoint (`LogContinuation`): of
/// what is already there it keeps every record up to S but those the resumed run writes again at S (its plan
/// record, and the evaluation of a checkpoint written at an epoch's last step before that epoch's
/// evaluation: `TrainingLoop.evaluatesFirst`), and drops the rest (what a run wrote after its last checkpoint
/// before it was killed). The metrics file is rewritten atomically to that (lines that do not parse, such
/// as one cut short by a kill, are dropped), the event files alexnet-dist wrote are trimmed the same way and a
/// new one starts with a `SessionLog` START at S + 1 for a TensorBoard already watching (Note [event files]).
/// Each step is then logged once across any number of resumes. A fresh run (S = 0) keeps nothing: the
/// metrics file is replaced and the event files emptied of values. A resume with nothing to do touches
/// neither.
final class TensorBoardLog {
    static let evaluationPrefix = "eval/"
    private let writer: EventFileWriter
    /// The FC layers' learning rate over the conv layers'.
    private let fullyConnectedFactor: Float
    private let convolutionalFactor: Float
    private let ranks: Int
    /// The step the notices of other threads are filed under.
    private let currentStep = StepCell()

    /// Opens the log in `directory`, trimming what is there to `continuation` (a fresh run: to nothing).
    init(
        directory: String, continuation: LogContinuation, factors: (convolutional: Float, fullyConnected: Float),
        ranks: Int, notices: RunNotices
    ) throws {
        // A trim killed midway leaves its temporary copy, which a reader would take for an event file.
        AtomicFile.removeLeftovers(in: directory) { $0.hasPrefix("events.out.tfevents.") }
        try EventFiles.trim(directory: directory, writtenBy: EventFileWriter.defaultWriter) {
            TensorBoardLog.keep(step: $0, tag: $1, continuation)
        }
        writer = try EventFileWriter(directory: directory, purgeFrom: continuation.step + 1)
        convolutionalFactor = factors.convolutional
        fullyConnectedFactor = factors.fullyConnected
        self.ranks = ranks
        currentStep.value = continuation.step
        // Written through to the kernel, not synced: the watchdog's thread must not wait on a disk.
        notices.listen { [writer, currentStep] kind, message in
            let step = currentStep.value
            try? writer.text("events/watchdog", kind == .watchdogAbort ? "abort: \(message)" : message, step: step)
        }
        try writer.flush()
    }

    /// Note [resuming a log]: whether a value stays in the event files a run continues.
    static func keep(step: Int, tag: String, _ continuation: LogContinuation) -> Bool {
        continuation.keeps(step: step, writtenAgain: tag.hasPrefix(evaluationPrefix) && continuation.evaluatesAgain)
    }

    /// The step now being trained (1-based), under which the watchdog's notices are filed.
    func stepStarted(_ step: Int) { currentStep.value = step }

    /// A logged window and what rank 0 measured over its steps.
    func window(_ w: TrainingProgress.Window, _ f: StepWindowFigures) throws {
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
                if f.gradientBytes > 0 {
                    values.append(
                        ("communication/compression_ratio", Double(f.plannedGradientBytes) / Double(f.gradientBytes)))
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

/// Where a run continues the logs in its paths (Note [resuming a log]), written once for the metrics file
/// and the event files.
public struct LogContinuation: Equatable, Sendable {
    /// The checkpoint's step.
    public var step: Int
    /// Whether the run evaluates at `step` again before training (`TrainingLoop.evaluatesFirst`).
    public var evaluatesAgain: Bool

    public init(step: Int, evaluatesAgain: Bool) {
        self.step = step
        self.evaluatesAgain = evaluatesAgain
    }

    /// A fresh run: nothing earlier is kept.
    public static let fresh = LogContinuation(step: 0, evaluatesAgain: false)

    /// Whether a record at step `s` stays; `writtenAgain`: the run writes it again at `step` (its plan, and the
    /// evaluation when it evaluates again).
    public func keeps(step s: Int, writtenAgain: Bool) -> Bool {
        step > 0 && (s < step || (s == step && !writtenAgain))
    }
}

/// What rank 0 measured over the steps of a logged window, for `TensorBoardLog`.
struct StepWindowFigures {
    var steps = 0
    var stepSeconds = 0.0
    var computeSeconds = 0.0
    var exposedSeconds = 0.0
    /// Every byte sent (Note [bytes sent]).
    var bytesSent = 0
    /// The gradients' bytes sent, and what the plan sends of them in fp32.
    var gradientBytes = 0
    var plannedGradientBytes = 0

    mutating func add(_ phases: StepPhases, bytesSent: Int, gradientBytes: Int, plannedGradientBytes: Int) {
        steps += 1
        stepSeconds += phases.stepSeconds
        computeSeconds += phases.convForward + phases.convBackward + phases.fullyConnected + phases.update
        exposedSeconds += phases.communicationExposed
        self.bytesSent += bytesSent
        self.gradientBytes += gradientBytes
        self.plannedGradientBytes += plannedGradientBytes
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
