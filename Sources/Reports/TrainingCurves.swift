import Foundation

/// The training curves of one run, read from its metrics file (`train --metrics`, JSON lines): the logged
/// windows' loss and learning rate, and the test evaluations' top-1 accuracy, by step (and epoch).
public struct TrainingCurves: Sendable {
    public struct Window: Sendable, Equatable {
        public var step: Int
        public var loss: Double
        public var learningRate: Double

        public init(step: Int, loss: Double, learningRate: Double) {
            self.step = step
            self.loss = loss
            self.learningRate = learningRate
        }
    }

    public struct Evaluation: Sendable, Equatable {
        public var step: Int
        public var top1Accuracy: Double

        public init(step: Int, top1Accuracy: Double) {
            self.step = step
            self.top1Accuracy = top1Accuracy
        }
    }

    /// The run's name in a legend: the metrics file's folder when it is named `metrics.jsonl`, else its
    /// name without the extension.
    public var name: String
    public var path: String
    public var windows: [Window] = []
    public var tests: [Evaluation] = []
    /// From the step records (nil in files written before they carried it).
    public var stepsPerEpoch: Int?

    /// The steps where the learning rate changed, with the new rate and the factor it was multiplied by.
    public var learningRateChanges: [(step: Int, rate: Double, factor: Double)] {
        zip(windows, windows.dropFirst()).compactMap { previous, window in
            window.learningRate != previous.learningRate
                ? (window.step, window.learningRate, window.learningRate / previous.learningRate) : nil
        }
    }

    /// What the curves are drawn against.
    public enum Axis: String, Sendable, CaseIterable {
        case step, epoch
    }

    /// `step` on `axis`: the step, or the epochs done (steps over steps per epoch).
    public func position(_ step: Int, on axis: Axis) -> Double {
        switch axis {
        case .step: return Double(step)
        case .epoch: return Double(step) / Double(stepsPerEpoch ?? 1)
        }
    }

    /// Reads `path`. A line that is not a JSON object, or a step or evaluation record without its figures,
    /// is an error naming the file, the line and the field; so is a file without step records, unless
    /// `allowingNoSteps` (a run that has not logged yet).
    public init(metrics path: String, allowingNoSteps: Bool = false) throws {
        self.path = path
        let url = URL(fileURLWithPath: path)
        name =
            url.lastPathComponent == "metrics.jsonl"
            ? url.deletingLastPathComponent().lastPathComponent : url.deletingPathExtension().lastPathComponent
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ReportError(
                "\(path): cannot be read (expected a metrics file written by alexnet-dist train --metrics)")
        }
        for (index, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
            let at = "\(path), line \(index + 1)"
            guard let record = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                throw ReportError("\(at): not a JSON object (expected one metrics record per line)")
            }
            func number(_ field: String) throws -> Double {
                // null: a non-finite figure (a NaN loss) as MetricsLog writes it.
                if record[field] is NSNull { return .nan }
                guard let value = record[field] as? Double else {
                    throw ReportError("\(at): \(record["event"] ?? "") record without a number \"\(field)\"")
                }
                return value
            }
            switch record["event"] as? String {
            case "step":
                windows.append(
                    Window(
                        step: Int(try number("step")), loss: try number("loss"),
                        learningRate: try number("learning_rate")))
                if let perEpoch = record["steps_per_epoch"] as? Int, perEpoch > 0 { stepsPerEpoch = perEpoch }
            case "evaluation" where record["split"] as? String == "test":
                tests.append(Evaluation(step: Int(try number("step")), top1Accuracy: try number("top1_accuracy")))
            default: continue
            }
        }
        guard !windows.isEmpty || allowingNoSteps else {
            throw ReportError("\(path): no step records (expected the metrics file of a train run)")
        }
    }
}
