import Foundation
import Timing

/// What one rank is doing, as its watchdog and the other ranks' watchdogs see it: the step, the phase, and
/// the collectives it is waiting in (entered by `WatchedCommunicator`). Written by the rank's threads,
/// read by the watchdog's.
public final class RankStatus: @unchecked Sendable {
    /// Phases whose collectives may wait long for one rank (the first step's set-up, evaluation, a
    /// checkpoint written by rank 0) get a longer timeout (`CollectiveWatchdog.Settings.slowPhaseFactor`).
    public enum Phase: UInt8, Sendable, CustomStringConvertible {
        case starting, training, evaluating, checkpointing, finishing
        public var description: String {
            switch self {
            case .starting: "starting"
            case .training: "training"
            case .evaluating: "evaluating"
            case .checkpointing: "writing a checkpoint"
            case .finishing: "finishing"
            }
        }
    }

    /// The rank in the run's world.
    public let rank: Int
    private let lock = NSLock()
    private var step = 0
    private var phase = Phase.starting
    private var waits: [Int: (collective: String, since: Double)] = [:]
    private var nextWait = 0

    public init(rank: Int) { self.rank = rank }

    /// The step the rank is in (0-based, as the step counter of the run) and what it is doing.
    public func set(step: Int, phase: Phase) {
        lock.lock()
        self.step = step
        self.phase = phase
        lock.unlock()
    }

    public func set(phase: Phase) {
        lock.lock()
        self.phase = phase
        lock.unlock()
    }

    /// Marks the start of a wait in `collective`; pass the result to `leave`.
    func enter(_ collective: String) -> Int {
        let now = monotonicSeconds()
        lock.lock()
        defer { lock.unlock() }
        nextWait += 1
        waits[nextWait] = (collective, now)
        return nextWait
    }

    func leave(_ wait: Int) {
        lock.lock()
        waits[wait] = nil
        lock.unlock()
    }

    /// The rank's state now; `waiting` is its longest current wait.
    public var state: RankState {
        let now = monotonicSeconds()
        lock.lock()
        defer { lock.unlock() }
        let oldest = waits.min { $0.value.since < $1.value.since }
        return RankState(
            rank: rank, step: step, phase: phase, collective: oldest?.value.collective,
            waited: oldest.map { now - $0.value.since } ?? 0, waitID: oldest?.key ?? 0)
    }
}

/// A rank's state as published to the other ranks.
public struct RankState: Sendable, Equatable {
    public var rank: Int
    public var step: Int
    public var phase: RankStatus.Phase
    /// The collective the rank has waited in longest, if any, and for how many seconds.
    public var collective: String?
    public var waited: Double
    /// Identifies the wait on its rank (the watchdog warns once per wait).
    public var waitID: Int

    public init(
        rank: Int, step: Int, phase: RankStatus.Phase, collective: String?, waited: Double, waitID: Int = 0
    ) {
        self.rank = rank
        self.step = step
        self.phase = phase
        self.collective = collective
        self.waited = waited
        self.waitID = waitID
    }
}
