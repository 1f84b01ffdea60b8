/// How the learning rate changes over training; every change divides it by `factor` (10 in the paper).
public enum LearningRateSchedule: Sendable, Equatable {
    /// The base rate throughout.
    case constant
    /// Divide at the start of each listed epoch (0-based: `[10]` trains epochs 0–9 at the base rate).
    case step(milestones: [Int], factor: Float)
    /// The paper's rule: divide when the validation error has not improved for `patience` evaluations,
    /// at most `maxDecays` times (the paper: 3).
    case plateau(patience: Int, factor: Float, maxDecays: Int)
}

/// Tracks the current rate of a schedule.
public struct LearningRateScheduler: Sendable {
    public let base: Float
    public let schedule: LearningRateSchedule
    /// What the scheduler has observed, for checkpoints.
    public struct State: Sendable, Equatable, Codable {
        public var decays = 0
        public var bestError = Double.infinity
        public var evaluationsSinceBest = 0
        public init() {}
    }

    public var state = State()

    public init(base: Float, schedule: LearningRateSchedule) {
        self.base = base
        self.schedule = schedule
    }

    /// The rate for a step in `epoch`.
    public func rate(epoch: Int) -> Float {
        switch schedule {
        case .constant:
            return base
        case .step(let milestones, let factor):
            let passed = milestones.filter { epoch >= $0 }.count
            return base / pow(factor, passed)
        case .plateau(_, let factor, _):
            return base / pow(factor, state.decays)
        }
    }

    /// Feeds a validation error (plateau schedule only). Returns true when the rate was just divided.
    @discardableResult
    public mutating func observe(validationError error: Double) -> Bool {
        guard case .plateau(let patience, _, let maxDecays) = schedule else { return false }
        if error < state.bestError {
            state.bestError = error
            state.evaluationsSinceBest = 0
            return false
        }
        state.evaluationsSinceBest += 1
        if state.evaluationsSinceBest >= patience && state.decays < maxDecays {
            state.decays += 1
            state.evaluationsSinceBest = 0
            return true
        }
        return false
    }

    private func pow(_ x: Float, _ n: Int) -> Float { (0..<n).reduce(1) { r, _ in r * x } }
}
