import Foundation
import Timing

/// Where a watchdog learns what the other ranks are doing without their help: each rank's watchdog
/// publishes its ranks' states every interval, and reads the latest state heard from every rank.
public protocol PeerBoard: AnyObject, Sendable {
    func publish(_ states: [RankState])
    /// The latest state heard from each rank, and how many seconds ago it was heard.
    func heard() -> [Int: (state: RankState, secondsAgo: Double)]
}

/// The board of ranks that are threads of one process (`--simulate`): their statuses, read directly.
public final class SharedBoard: PeerBoard, @unchecked Sendable {
    private let statuses: [RankStatus]
    public init(_ statuses: [RankStatus]) { self.statuses = statuses }
    public func publish(_ states: [RankState]) {}
    public func heard() -> [Int: (state: RankState, secondsAgo: Double)] {
        Dictionary(uniqueKeysWithValues: statuses.map { ($0.rank, ($0.state, 0)) })
    }
}

/// The collective watchdog.
///
/// ## Note [collective watchdog]
///
/// A thread per process that, every `interval`, publishes what its ranks are doing (step, phase, the
/// collective they wait in) and reads what every other rank last published. A rank that has waited in a
/// collective for `warnAfter` seconds gets one warning naming the ranks that have not arrived and what
/// they are doing, or that nothing has been heard from them (a stopped, hung or unreachable rank sends
/// nothing: the waiting ranks find it out without its help); at `timeout` the job is aborted with that
/// message. Phases that may legitimately wait for one rank (the first step, evaluation, a checkpoint)
/// allow `slowPhaseFactor` times longer.
public final class CollectiveWatchdog: @unchecked Sendable {
    public struct Settings: Sendable, Equatable {
        /// Seconds a rank may wait in one collective during training steps (`--collective-timeout`).
        public var timeout: Double
        /// Seconds of waiting before the warning (Horovod's stall check warns at 60 s).
        public var warnAfter: Double
        public var slowPhaseFactor: Double = 3
        /// Seconds between checks and heartbeats.
        public var interval: Double = 1
        /// A rank not heard from for this long is reported as silent.
        public var silentAfter: Double = 5

        public init(timeout: Double) {
            self.timeout = timeout
            warnAfter = min(60, timeout / 2)
        }

        /// The default `--collective-timeout`: 10 minutes, as PyTorch's default process-group timeout.
        public static let defaultTimeout: Double = 600
    }

    public let settings: Settings
    private let local: [RankStatus]
    private let worldSize: Int
    private let board: PeerBoard
    private let warn: @Sendable (String) -> Void
    private let abort: @Sendable (String) -> Void
    private let lock = NSLock()
    private var warned: Set<[Int]> = []
    private var stopped = false

    /// - Parameters:
    ///   - local: the statuses of this process's ranks.
    ///   - warn: receives stall warnings.
    ///   - abort: ends the job with the message (it should not return; if it does, the watchdog stops).
    public init(
        settings: Settings, local: [RankStatus], worldSize: Int, board: PeerBoard,
        warn: @escaping @Sendable (String) -> Void, abort: @escaping @Sendable (String) -> Void
    ) {
        self.settings = settings
        self.local = local
        self.worldSize = worldSize
        self.board = board
        self.warn = warn
        self.abort = abort
    }

    /// Starts the watchdog's thread (it runs until `stop`).
    public func start() {
        let thread = Thread { [self] in
            while !isStopped {
                Thread.sleep(forTimeInterval: settings.interval)
                if isStopped { break }
                if let message = check() {
                    stop()
                    abort(message)
                }
            }
        }
        thread.name = "collective watchdog"
        thread.start()
    }

    public func stop() {
        lock.lock()
        stopped = true
        lock.unlock()
    }

    private var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    /// One pass: publishes the local states, warns about long waits, and returns the abort message when a
    /// local rank's wait has passed its timeout.
    public func check() -> String? {
        let mine = local.map(\.state)
        board.publish(mine)
        let heard = board.heard()
        for state in mine {
            guard let collective = state.collective else { continue }
            let factor = state.phase == .training ? 1 : settings.slowPhaseFactor
            let arrived = (0..<worldSize).filter { q in
                guard q != state.rank else { return true }
                guard let peer = heard[q], peer.secondsAgo < settings.silentAfter else { return false }
                return peer.state.collective != nil
            }
            // Every waiting rank times out alike; the lowest-numbered reports first, the others a little later.
            let grace = arrived.first == state.rank ? 0 : 3 * settings.interval
            if state.waited >= settings.timeout * factor + grace {
                return
                    "rank \(state.rank) waited \(Int(state.waited)) s in \(collective) at step \(state.step + 1) (\(state.phase)), longer than --collective-timeout \(Int(settings.timeout * factor)) s: \(missing(state, heard))"
            }
            // One warning per stall: from the lowest-numbered rank that waits.
            let key = [state.rank, state.waitID]
            if state.waited >= settings.warnAfter * factor, arrived.first == state.rank, !warned.contains(key) {
                warned.insert(key)
                warn(
                    "warning: rank \(state.rank) has waited \(Int(state.waited)) s in \(collective) at step \(state.step + 1) (\(state.phase)): \(missing(state, heard)); aborting at \(Int(settings.timeout * factor)) s (--collective-timeout)"
                )
            }
        }
        return nil
    }

    /// The ranks that have not arrived in `waiter`'s collective, and what is known of each.
    func missing(_ waiter: RankState, _ heard: [Int: (state: RankState, secondsAgo: Double)]) -> String {
        var absent: [String] = []
        for q in 0..<worldSize where q != waiter.rank {
            guard let peer = heard[q] else {
                absent.append("rank \(q) has never been heard from (is the watchdog's UDP port blocked?)")
                continue
            }
            if peer.secondsAgo >= settings.silentAfter {
                absent.append(
                    "rank \(q) has not been heard from for \(Int(peer.secondsAgo)) s (stopped, hung or unreachable)")
                continue
            }
            let s = peer.state
            if s.collective == waiter.collective && s.step == waiter.step { continue }
            if let other = s.collective {
                absent.append("rank \(q) waits in \(other) at step \(s.step + 1) (\(s.phase))")
            } else {
                absent.append("rank \(q) is \(s.phase) at step \(s.step + 1), outside any collective")
            }
        }
        return absent.isEmpty
            ? "every rank is waiting in it (a network failure, or ranks that disagree)"
            : absent.joined(separator: "; ")
    }
}
