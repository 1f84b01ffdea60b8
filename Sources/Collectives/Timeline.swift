import Foundation
import Timing

/// Spans of one rank's work (compute, communication, compression, waiting), each on the lane of the thread
/// that did it: the raw material of a step's phase breakdown and of a Chrome trace. Thread-safe; recording
/// costs a clock read and a lock, and nothing at all while `isRecording` is false.
public final class Timeline: @unchecked Sendable {
    /// What a span's time was spent on.
    public enum Category: String, Codable, Sendable, CaseIterable {
        /// Layers' forward and backward passes, the loss, the optimizer.
        case compute
        /// A collective, from its call to its return (transfer and the time spent waiting for other ranks).
        case communication
        /// Encoding or decoding a compressed gradient.
        case compression
        /// The compute thread blocked on work it handed to a transfer thread.
        case wait
    }

    /// One interval of work. Times are seconds of `CLOCK_MONOTONIC`, one clock for every process of a
    /// machine, so the spans of ranks on one machine line up.
    public struct Span: Codable, Sendable, Equatable {
        public var name: String
        public var category: Category
        /// The thread's lane: "compute" for the rank's own thread, else the worker's name.
        public var lane: String
        public var start: Double
        public var end: Double
        public var seconds: Double { end - start }

        public init(name: String, category: Category, lane: String, start: Double, end: Double) {
            self.name = name
            self.category = category
            self.lane = lane
            self.start = start
            self.end = end
        }
    }

    private let lock = NSLock()
    private var spans: [Span] = []
    private var recording = false

    public init() {}

    /// Whether spans are kept (off by default: training runs do not pay for them).
    public var isRecording: Bool {
        get { lock.withLock { recording } }
        set { lock.withLock { recording = newValue } }
    }

    /// Runs `body`, recording it as a span of `category` on the current thread's lane.
    @discardableResult
    public func record<T>(
        _ name: @autoclosure () -> String, _ category: Category, _ body: () throws -> T
    ) rethrows
        -> T
    {
        guard isRecording else { return try body() }
        let start = monotonicSeconds()
        defer { add(name(), category, start: start, end: monotonicSeconds()) }
        return try body()
    }

    /// Records a span measured by the caller.
    public func add(_ name: String, _ category: Category, start: Double, end: Double) {
        let lane = Timeline.currentLane
        lock.withLock {
            if recording { spans.append(Span(name: name, category: category, lane: lane, start: start, end: end)) }
        }
    }

    /// The spans recorded so far, and forgets them.
    public func drain() -> [Span] {
        lock.withLock {
            defer { spans = [] }
            return spans
        }
    }

    /// The current thread's lane: a `SerialWorker`'s name, or "compute" for a rank's own thread.
    public static var currentLane: String {
        Thread.current.threadDictionary[SerialWorker.laneKey] as? String ?? "compute"
    }
}
