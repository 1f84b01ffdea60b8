import Foundation
import Testing

@testable import Training

@Suite struct MetricsLogTests {
    static func lines(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    static func write(_ path: String) throws {
        let log = try MetricsLog(path: path)
        try log.record(["event": "plan", "step": 0])
        for step in 1...6 { try log.record(["event": "step", "step": step, "loss": 1.0]) }
        try log.record(["event": "evaluation", "split": "test", "step": 3])
        try log.record(["event": "plan", "step": 3])
        try log.record(["event": "evaluation", "split": "test", "step": 6])
        try log.record(["event": "traffic", "rank": 0])
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data("{\"event\":\"st".utf8))  // a line cut short by a kill
        try handle.close()
    }

    /// Note [resuming a log]: a run resumed at step S keeps the records up to S but those it writes again
    /// there (its plan; the evaluation when it evaluates S again), drops the rest and a line cut short, then
    /// appends its own; a fresh run replaces the file.
    @Test(arguments: [false, true])
    func aResumedRunKeepsTheRecordsUpToItsCheckpoint(evaluatesAgain: Bool) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).jsonl")
            .path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Self.write(path)
        do {
            let log = try MetricsLog(path: path, continuing: LogContinuation(step: 3, evaluatesAgain: evaluatesAgain))
            try log.record(["event": "step", "step": 4, "loss": 2.0])
        }
        let records = try Self.lines(path)
        let events = records.map { $0["event"] as? String ?? "" }
        #expect(
            events
                == ["plan", "step", "step", "step"] + (evaluatesAgain ? [] : ["evaluation"]) + ["traffic", "step"])
        #expect(records.last?["loss"] as? Double == 2)
        _ = try MetricsLog(path: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8).isEmpty)
    }

    /// The same rule for TensorBoard's values, by tag; a fresh run keeps nothing.
    @Test func evaluationsAtTheResumedStepAreDroppedOnlyWhenEvaluatedAgain() {
        let again = LogContinuation(step: 3, evaluatesAgain: true)
        let not = LogContinuation(step: 3, evaluatesAgain: false)
        #expect(TensorBoardLog.keep(step: 3, tag: "train/loss", again))
        #expect(!TensorBoardLog.keep(step: 4, tag: "train/loss", again))
        #expect(!TensorBoardLog.keep(step: 3, tag: "eval/test/loss", again))
        #expect(TensorBoardLog.keep(step: 3, tag: "eval/test/loss", not))
        #expect(TensorBoardLog.keep(step: 2, tag: "eval/test/loss", again))
        #expect(!TensorBoardLog.keep(step: 1, tag: "train/loss", .fresh))
    }

    /// `--metrics /dev/null` stays the device it is (the log opens the path, never renames over it).
    @Test func aDeviceIsWrittenToNotReplaced() throws {
        let log = try MetricsLog(path: "/dev/null", continuing: LogContinuation(step: 5, evaluatesAgain: false))
        try log.record(["event": "step", "step": 6])
        var status = stat()
        #expect(stat("/dev/null", &status) == 0 && status.st_mode & S_IFMT == S_IFCHR)
    }
}
