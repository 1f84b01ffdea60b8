import Foundation
import Processes
import Testing

/// The python of a virtual environment with TensorBoard from PyPI (Scripts/tensorboard-venv.sh), or nil
/// where it cannot be installed (no network to PyPI, no python3).
let tensorBoardPython: String? = {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Scripts/tensorboard-venv.sh").path
    guard let outcome = try? runProcess("/bin/bash", [script], timeout: 600), outcome.status == 0 else { return nil }
    return outcome.stdout.split(separator: "\n").last.map(String.init)
}()

/// What TensorBoard's own readers make of a directory (Scripts/read-tensorboard.py).
struct TensorBoardContents: Decodable {
    var scalars: [String: [[Double]]]
    var texts: [String: [TextEvent]]
    var raw: [String: [Int]]
    var files: Int

    struct TextEvent: Decodable {
        var step: Int
        var text: String
        init(from decoder: Decoder) throws {
            var pair = try decoder.unkeyedContainer()
            step = try pair.decode(Int.self)
            text = try pair.decode(String.self)
        }
    }

    static func read(_ directory: String, python: String) throws -> TensorBoardContents {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Scripts/read-tensorboard.py").path
        let outcome = try runProcess(python, [script, directory])
        try #require(outcome.status == 0, "read-tensorboard.py: \(outcome.stderr)")
        return try JSONDecoder().decode(TensorBoardContents.self, from: Data(outcome.stdout.utf8))
    }

    func steps(_ tag: String) -> [Int] { (scalars[tag] ?? []).map { Int($0[0]) } }
}

@Suite struct TensorBoardTests {
    /// A 4-rank run with `--tensorboard`, stopped by SIGTERM and resumed: TensorBoard's reader lists every
    /// tag (Note [TensorBoard tags]) with each step once, in order, continuing across the resume, both in
    /// its dashboard's view and in the raw records of the two files; the stop is a text event at its step.
    @Test(
        .enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"),
        .enabled(
            if: tensorBoardPython != nil, "TensorBoard could not be installed from PyPI (Scripts/tensorboard-venv.sh)"),
        .timeLimit(.minutes(10)))
    func aStoppedAndResumedRunLogsEveryStepOnce() throws {
        let dir = try FailureTests.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let logs = "\(dir)/tensorboard"
        let flags = FailureTests.flags(dir, steps: 40) + ["--simulate", "4", "--tensorboard", logs]
        let process = BackgroundProcess(tool, flags)
        FailureTests.waitForMetrics(in: dir, containing: "\"step\":5")
        kill(process.pid, SIGTERM)
        let stopped = try process.wait()
        #expect(stopped.status == 75, "stderr: \(stopped.stderr)")
        let resumed = try runTool(flags + ["--resume", "auto"])
        #expect(resumed.status == 0, "stderr: \(resumed.stderr)")

        let contents = try TensorBoardContents.read(logs, python: try #require(tensorBoardPython))
        #expect(contents.files == 2)
        let every = Array(1...40)
        for tag in [
            "train/loss", "train/learning_rate", "throughput/images_per_second", "time/step_seconds",
            "time/compute_seconds", "time/exposed_communication_seconds", "communication/bytes_sent_per_rank",
            "communication/compression_ratio",
        ] {
            #expect(contents.steps(tag) == every, "\(tag)")
            #expect(contents.raw[tag] == every, "\(tag) (raw records)")
        }
        // 1200 examples, 4 × 16 per step: epochs end at steps 18 and 36; the run ends at 40.
        for tag in ["eval/test/top1_accuracy", "eval/test/top5_accuracy", "eval/test/loss"] {
            #expect(contents.steps(tag) == [18, 36, 40], "\(tag)")
            #expect(contents.raw[tag] == [18, 36, 40], "\(tag) (raw records)")
        }
        let ratios = contents.scalars["communication/compression_ratio"]?.map { $0[1] } ?? []
        // No codec: the gradients go as the plan's fp32 bytes.
        #expect(ratios.allSatisfy { $0 == 1 }, "\(ratios)")
        let stops = contents.texts["events/stop"] ?? []
        #expect(stops.count == 1 && stops[0].text.contains("stopped (") && stops[0].step >= 5, "\(stops.map(\.text))")

        // The metrics file continues the same way: each step once.
        let lines = try String(contentsOfFile: "\(dir)/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let steps = lines.compactMap { line -> Int? in
            guard let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                record["event"] as? String == "step"
            else { return nil }
            return record["step"] as? Int
        }
        #expect(steps == every)
    }
}
