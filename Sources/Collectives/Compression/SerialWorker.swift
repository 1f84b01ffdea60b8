import Foundation

/// One background thread that runs submitted work in submission order: the transfer thread of the
/// compressed allreduce, so that collectives run while the calling thread compresses the next chunk, and
/// the way to start a collective without waiting for it (submit, compute, then `wait`), as a trainer
/// overlapping gradient buckets with backward does. Because work runs in order, every rank still issues
/// its collectives in the order it submitted them (the ordering contract of `Communicator`). Work on a
/// worker and work on the calling thread must not use the same communicator at the same time.
public final class SerialWorker: @unchecked Sendable {
    private let queue = WorkQueue()

    /// The key of `Thread.threadDictionary` under which a worker thread keeps its name (its lane in a
    /// `Timeline`).
    public static let laneKey = "alexnet-dist.lane"

    /// - Parameter name: the thread's lane in a `Timeline` ("transfer", "buckets", ...).
    public init(name: String = "transfer") {
        let queue = self.queue
        let thread = Thread {
            Thread.current.threadDictionary[SerialWorker.laneKey] = name
            queue.runUntilStopped()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    deinit { queue.stop() }

    /// Queues `work`; its result is available from the returned `Pending`.
    public func submit<T>(_ work: @escaping () throws -> T) -> Pending<T> {
        let pending = Pending<T>()
        queue.append { pending.complete(Result { try work() }) }
        return pending
    }
}

/// The result of work submitted to a `SerialWorker`, or of work done at once.
public final class Pending<T>: @unchecked Sendable {
    private let condition = NSCondition()
    private var result: Result<T, Error>?

    init() {}

    /// Already complete.
    public init(_ result: Result<T, Error>) { self.result = result }

    func complete(_ value: Result<T, Error>) {
        condition.lock()
        result = value
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for the work to finish; returns its value or rethrows its error.
    public func wait() throws -> T {
        condition.lock()
        defer { condition.unlock() }
        while result == nil { condition.wait() }
        return try result!.get()
    }
}

private final class WorkQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [() -> Void] = []
    private var stopped = false

    func append(_ item: @escaping () -> Void) {
        condition.lock()
        items.append(item)
        condition.signal()
        condition.unlock()
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    func runUntilStopped() {
        while true {
            condition.lock()
            while items.isEmpty && !stopped { condition.wait() }
            if items.isEmpty {
                condition.unlock()
                return
            }
            let item = items.removeFirst()
            condition.unlock()
            item()
        }
    }
}
