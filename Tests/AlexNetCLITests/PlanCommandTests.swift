import Foundation
import Testing

/// `plan` and `bench links`: the planner's ranking from measured compute and links, and its refusals.
@Suite struct PlanCommandTests {
    struct Report: Decodable {
        struct Row: Decodable {
            var groupSize: Int
            var scheme: String?
            var codec: String
            var fcUpdate: String
            var stepSeconds: Double
            var bytesSentPerRank: Double
        }
        var ranks: Int
        var candidates: [Row]
        var reason: String
    }

    static func decode<T: Decodable>(_ type: T.Type, _ path: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(T.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test(.timeLimit(.minutes(5)))
    func planRanksEveryLayoutFromMeasuredComputeAndLinks() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plan-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let compute = "\(directory)/compute.json", links = "\(directory)/links.json", plan = "\(directory)/plan.json"

        let measured = try runTool([
            "bench", "compute", "--variant", "small", "--batch-size", "16", "--warmup", "0", "--steps", "1",
            "--threads", "1", "--json", compute,
        ])
        try #require(measured.status == 0, "\(measured.stderr)")
        // Two in-process ranks share one node: the node's link is measured, the network's is not.
        let linked = try runTool([
            "bench", "links", "--simulate", "2", "--sizes", "1024,65536,262144", "--repetitions", "2", "--json", links,
        ])
        try #require(linked.status == 0, "\(linked.stderr)")
        #expect(linked.stdout.contains("intra-node: α"), "\(linked.stdout)")
        #expect(linked.stdout.contains("inter-node: not measured (one node)"), "\(linked.stdout)")

        // 8 ranks, 4 per node, a 1 Gbit/s network: every layout once, fastest first, the first recommended.
        let ranked = try runTool([
            "plan", "--variant", "small", "--batch-size", "16", "--compute", compute, "--ranks", "8",
            "--ranks-per-node", "4", "--network", "1gbit", "--json", plan,
        ])
        try #require(ranked.status == 0, "\(ranked.stderr)")
        #expect(ranked.stdout.contains("recommended: "), "\(ranked.stdout)")
        let report = try Self.decode(Report.self, plan)
        // G = 1 once; G = 2 and 4: schemes a, b, c; G = 8: a, b and c per step, b and c per sub-batch.
        #expect(report.candidates.count == 1 + 3 + 3 + 5)
        #expect(zip(report.candidates, report.candidates.dropFirst()).allSatisfy { $0.stepSeconds <= $1.stepSeconds })
        #expect(report.candidates.filter { $0.groupSize == 1 }.allSatisfy { $0.scheme == nil })
        #expect(
            report.reason.hasPrefix(
                report.candidates[0].scheme.map { "G = \(report.candidates[0].groupSize), scheme \($0)" }
                    ?? "data parallelism"))

        // The links measured on one node: a plan on one node of 2 uses them; one across nodes is refused.
        let oneNode = try runTool([
            "plan", "--variant", "small", "--batch-size", "16", "--compute", compute, "--ranks", "2", "--links", links,
        ])
        #expect(oneNode.status == 0, "\(oneNode.stderr)")
        #expect(oneNode.stdout.contains("2 ranks (2 per node)"), "\(oneNode.stdout)")
        let acrossNodes = try runTool([
            "plan", "--variant", "small", "--batch-size", "16", "--compute", compute, "--ranks", "4", "--links", links,
        ])
        #expect(acrossNodes.status != 0)
        #expect(
            acrossNodes.stderr.contains("\(links): the links were measured on one node only"), "\(acrossNodes.stderr)")
        // Compute measured at another batch is refused, naming the file.
        let otherBatch = try runTool([
            "plan", "--variant", "small", "--batch-size", "32", "--compute", compute, "--ranks", "2",
        ])
        #expect(otherBatch.status != 0)
        #expect(otherBatch.stderr.contains("\(compute): bench compute of small at batch 16"), "\(otherBatch.stderr)")
    }
}
