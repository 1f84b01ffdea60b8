import Foundation
import Testing

/// `train --parallel auto`: the ranks measure, rank 0 chooses, and the run is the chosen layout's given by
/// hand, bit for bit; the choice is printed and recorded in the metrics and the model file.
@Suite struct AutoLayoutTests {
    /// A safetensors file's JSON header and its tensors (the header's metadata records how the layout was
    /// chosen; the tensors must not differ).
    static func parts(_ path: String) throws -> (header: String, tensors: Data) {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        return (
            String(decoding: data.dropFirst(8).prefix(headerLength), as: UTF8.self), data.dropFirst(8 + headerLength)
        )
    }

    /// The chosen layout's flags from the line `--parallel auto chose …`.
    static func chosenFlags(_ stderr: String) -> [String]? {
        guard let line = stderr.split(separator: "\n").first(where: { $0.hasPrefix("--parallel auto chose ") }) else {
            return nil
        }
        if line.hasPrefix("--parallel auto chose data parallelism") { return ["--parallel", "data"] }
        let words = line.split(whereSeparator: { " ,:".contains($0) })
        guard let g = words.firstIndex(of: "G").map({ words[$0 + 2] }),
            let scheme = words.firstIndex(of: "scheme").map({ words[$0 + 1] })
        else { return nil }
        return ["--fc-group-size", String(g), "--scheme", String(scheme)]
    }

    @Test(.timeLimit(.minutes(5)), arguments: [false, true])
    func theChosenLayoutTrainsAsIfGivenByHand(mpi: Bool) throws {
        if mpi && mpirun == nil { return }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("auto-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let common = [
            "train", "--max-steps", "4", "--train-limit", "600", "--test-limit", "100", "--threads", "1",
            "--checkpoint-every", "0", "--log-every", "1",
        ]
        let auto = try runRanks(
            4, mpi: mpi,
            common + [
                "--parallel", "auto", "--output", "\(directory)/auto.safetensors", "--metrics",
                "\(directory)/auto.jsonl",
            ])
        try #require(auto.status == 0, "\(auto.stderr)")
        #expect(auto.stderr.contains("--parallel auto: measured in"), "\(auto.stderr)")
        let flags = try #require(Self.chosenFlags(auto.stderr), "\(auto.stderr)")
        let byHand = try runRanks(
            4, mpi: mpi,
            common + flags + ["--output", "\(directory)/hand.safetensors", "--metrics", "\(directory)/hand.jsonl"])
        try #require(byHand.status == 0, "\(byHand.stderr)")
        let chosen = try Self.parts("\(directory)/auto.safetensors"),
            given = try Self.parts("\(directory)/hand.safetensors")
        #expect(chosen.tensors == given.tensors, "the models differ (\(flags))")
        #expect(chosen.header.contains("\"layout_chosen_by\":\"auto\"") && !given.header.contains("layout_chosen_by"))
        let metrics = try String(contentsOfFile: "\(directory)/auto.jsonl", encoding: .utf8)
        #expect(metrics.contains("\"chosen_by\":\"auto\"") && metrics.contains("\"predicted_step_seconds\""))
        // The losses, step by step, are the same too.
        func losses(_ text: String) -> [Substring] {
            text.split(separator: "\n").filter { $0.contains("\"event\":\"step\"") }.compactMap {
                $0.split(separator: ",").first { $0.contains("\"loss\"") }
            }
        }
        let handMetrics = try String(contentsOfFile: "\(directory)/hand.jsonl", encoding: .utf8)
        #expect(losses(metrics) == losses(handMetrics) && losses(metrics).count == 4)
    }
}
