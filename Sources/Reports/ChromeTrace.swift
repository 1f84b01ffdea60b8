import Collectives
import Foundation

/// A timeline in the Trace Event Format that `chrome://tracing` and Perfetto (ui.perfetto.dev) open: one
/// process per rank (and run), one thread per lane (compute, exchange, buckets, transfer), a complete event
/// ("ph": "X") per span, coloured by category.
public struct ChromeTrace: Sendable {
    /// One run's ranks: `spans[r]` are rank r's, in seconds from the step's start.
    public struct Run: Sendable {
        public var title: String
        public var spans: [[Timeline.Span]]

        public init(title: String, spans: [[Timeline.Span]]) {
            self.title = title
            self.spans = spans
        }
    }

    public var runs: [Run]

    public init(runs: [Run]) { self.runs = runs }

    /// Lanes in display order; others follow alphabetically.
    static let laneOrder = ["compute", "exchange", "buckets", "transfer"]

    /// Chrome's reserved colour names, by category.
    static func colour(_ category: Timeline.Category) -> String {
        switch category {
        case .compute: "thread_state_running"
        case .communication: "rail_load"
        case .compression: "cq_build_running"
        case .wait: "thread_state_iowait"
        }
    }

    /// The trace as JSON (`{"traceEvents": [...], "displayTimeUnit": "ms"}`); timestamps in microseconds.
    public func json() throws -> Data {
        var events: [[String: Any]] = []
        for (r, run) in runs.enumerated() {
            for (rank, spans) in run.spans.enumerated() {
                let pid = r * 1000 + rank
                events.append([
                    "ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                    "args": ["name": "\(run.title) · rank \(rank)"],
                ])
                events.append([
                    "ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0, "args": ["sort_index": pid],
                ])
                let lanes = Set(spans.map(\.lane)).sorted {
                    (ChromeTrace.laneOrder.firstIndex(of: $0) ?? 99, $0) < (
                        ChromeTrace.laneOrder.firstIndex(of: $1) ?? 99, $1
                    )
                }
                for (tid, lane) in lanes.enumerated() {
                    events.append(["ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": ["name": lane]])
                    events.append([
                        "ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid, "args": ["sort_index": tid],
                    ])
                }
                for span in spans {
                    events.append([
                        "ph": "X", "name": span.name, "cat": span.category.rawValue, "pid": pid,
                        "tid": lanes.firstIndex(of: span.lane)!,
                        "ts": (span.start * 1e6).rounded(), "dur": max(1, ((span.end - span.start) * 1e6).rounded()),
                        "cname": ChromeTrace.colour(span.category),
                    ])
                }
            }
        }
        return try JSONSerialization.data(
            withJSONObject: ["traceEvents": events, "displayTimeUnit": "ms"], options: [.sortedKeys])
    }
}
