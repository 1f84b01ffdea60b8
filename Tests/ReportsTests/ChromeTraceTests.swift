import Collectives
import Foundation
import Testing

@testable import Reports

@Suite struct ChromeTraceTests {
    @Test func everySpanIsACompleteEventOnItsRankAndLane() throws {
        let spans: [[Timeline.Span]] = [
            [
                .init(name: "conv/conv1 forward", category: .compute, lane: "compute", start: 0, end: 0.5),
                .init(name: "gradients allReduce", category: .communication, lane: "buckets", start: 0.25, end: 1),
            ],
            [.init(name: "encode bf16", category: .compression, lane: "transfer", start: 0.1, end: 0.2)],
        ]
        let data = try ChromeTrace(runs: [.init(title: "owt hybrid", spans: spans)]).json()
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let events = try #require(object["traceEvents"] as? [[String: Any]])
        let complete = events.filter { $0["ph"] as? String == "X" }
        #expect(complete.count == 3)
        let communication = try #require(complete.first { $0["name"] as? String == "gradients allReduce" })
        #expect(communication["ts"] as? Double == 250_000)
        #expect(communication["dur"] as? Double == 750_000)
        #expect(communication["cat"] as? String == "communication")
        let names = events.filter { $0["name"] as? String == "process_name" }.compactMap {
            ($0["args"] as? [String: Any])?["name"] as? String
        }
        #expect(names == ["owt hybrid · rank 0", "owt hybrid · rank 1"])
        let lanes = events.filter { $0["name"] as? String == "thread_name" && $0["pid"] as? Int == 0 }.compactMap {
            ($0["args"] as? [String: Any])?["name"] as? String
        }
        #expect(lanes == ["compute", "buckets"])
    }
}
