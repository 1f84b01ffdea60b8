import Foundation

/// What a rank's guards say about the run as it happens, for whoever watches it besides stderr (rank 0's
/// TensorBoard log): the collective watchdog's stall warnings and its abort, posted from the watchdog's
/// thread before the job ends.
public final class RunNotices: @unchecked Sendable {
    public enum Kind: Sendable, Equatable {
        /// A rank has waited `warnAfter` seconds in a collective (Note [collective watchdog]).
        case watchdogWarning
        /// The watchdog ends the job.
        case watchdogAbort
    }

    private let lock = NSLock()
    private var listeners: [@Sendable (Kind, String) -> Void] = []

    public init() {}

    /// Calls `listener` with every notice posted from now on (on the posting thread).
    public func listen(_ listener: @escaping @Sendable (Kind, String) -> Void) {
        lock.withLock { listeners.append(listener) }
    }

    public func post(_ kind: Kind, _ message: String) {
        for listener in lock.withLock({ listeners }) { listener(kind, message) }
    }
}
