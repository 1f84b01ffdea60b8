import Foundation
import Testing

@testable import Training

@Suite struct MetricsLogTests {
    static func lines(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// Note [resuming a log]: a run resumed at step S keeps the step records up to S and the evaluations
    /// before S (the resumed run evaluates S again when S ended an epoch), then appends its own; a fresh run
    /// replaces the file.
    @Test func aResumedRunKeepsTheRecordsUpToItsCheckpoint() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).jsonl")
            .path
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let log = try MetricsLog(path: path)
            try log.record(["event": "plan", "step": 0])
            for step in 1...6 { try log.record(["event": "step", "step": step, "loss": 1.0]) }
            try log.record(["event": "evaluation", "split": "test", "step": 3])
            try log.record(["event": "evaluation", "split": "test", "step": 6])
            try log.record(["event": "traffic", "rank": 0])
        }
        do {
            let log = try MetricsLog(path: path, resumedAt: 3)
            try log.record(["event": "step", "step": 4, "loss": 2.0])
        }
        let records = try Self.lines(path)
        #expect(records.map { $0["event"] as? String } == ["plan", "step", "step", "step", "traffic", "step"])
        #expect(records.compactMap { $0["step"] as? Int } == [0, 1, 2, 3, 4])
        #expect(records.last?["loss"] as? Double == 2)
        _ = try MetricsLog(path: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8).isEmpty)
    }

    /// The same rule for TensorBoard's values, by tag.
    @Test func evaluationsAtTheResumedStepAreDroppedOnlyFromEvaluationTags() {
        #expect(TensorBoardLog.keep(step: 3, tag: "train/loss", resumedAt: 3))
        #expect(!TensorBoardLog.keep(step: 4, tag: "train/loss", resumedAt: 3))
        #expect(!TensorBoardLog.keep(step: 3, tag: "eval/test/loss", resumedAt: 3))
        #expect(TensorBoardLog.keep(step: 2, tag: "eval/test/loss", resumedAt: 3))
    }

    /// `--metrics /dev/null` stays the device it is (the log opens the path, never renames over it).
    @Test func aDeviceIsWrittenToNotReplaced() throws {
        let log = try MetricsLog(path: "/dev/null", resumedAt: 5)
        try log.record(["event": "step", "step": 6])
        var status = stat()
        #expect(stat("/dev/null", &status) == 0 && status.st_mode & S_IFMT == S_IFCHR)
    }
}
