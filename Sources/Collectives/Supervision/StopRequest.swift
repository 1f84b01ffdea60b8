import Dispatch
import Foundation

/// A request to stop a run at the next step boundary, raised by a signal (SIGTERM, SIGINT, SIGUSR1: Slurm's
/// warning before a time limit) or by a test. Every rank adds whether it has seen one to the step's
/// figures, so all ranks stop after the same step (Note [stopping on a signal]).
public final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var reason: String?

    public init() {}

    /// The process's request, raised by the signals `installSignalHandlers` watches.
    public static let process = StopRequest()

    /// What asked for the stop (a signal's name), nil while none has.
    public var requested: String? {
        lock.lock()
        defer { lock.unlock() }
        return reason
    }

    /// Asks for a stop (the first reason is kept).
    public func request(_ why: String) {
        lock.lock()
        if reason == nil { reason = why }
        lock.unlock()
    }

    /// Signals that can ask a run to stop, by name.
    public static let signalNumbers: [String: Int32] = [
        "TERM": SIGTERM, "INT": SIGINT, "USR1": SIGUSR1, "USR2": SIGUSR2, "HUP": SIGHUP,
    ]

    private nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []

    /// Makes each of `signals` (names from `signalNumbers`) raise `StopRequest.process`; a second SIGINT
    /// (Ctrl-C twice) exits at once with `ExitStatus.interrupted`. `announce` receives one line per signal.
    /// Call once per process, before training.
    public static func installSignalHandlers(_ signals: [String], announce: @escaping @Sendable (String) -> Void) {
        let queue = DispatchQueue(label: "alexnet-dist.signals")
        for name in signals {
            guard let number = signalNumbers[name] else { continue }
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                if number == SIGINT, process.requested != nil {
                    announce("second SIGINT: exiting now, without a checkpoint")
                    exit(ExitStatus.interrupted)
                }
                if process.requested == nil {
                    announce("SIG\(name) received: stopping after the current step and writing a checkpoint")
                }
                process.request("SIG\(name)")
            }
            source.resume()
            sources.append(source)
        }
    }
}
