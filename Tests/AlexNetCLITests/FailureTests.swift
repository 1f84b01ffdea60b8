import Foundation
import Testing

/// README, "When things go wrong": what ends a run early ends it loudly, at once, with the last good state
/// on disk; what merely stops it loses nothing.
@Suite(.serialized) struct FailureTests {
    static let mpiEnvironment = TrainParallelTests.mpiEnvironment

    /// Waits (at most a minute) until `dir/metrics.jsonl` holds `fragment`.
    static func waitForMetrics(in dir: String, containing fragment: String) {
        for _ in 0..<1200 {
            let metrics = (try? String(contentsOfFile: "\(dir)/metrics.jsonl", encoding: .utf8)) ?? ""
            if metrics.contains(fragment) { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    static func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("failure-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A short run on a slice of Fashion-MNIST writing everything under `dir`.
    static func flags(_ dir: String, steps: Int) -> [String] {
        [
            "train", "--max-steps", "\(steps)", "--log-every", "1", "--train-limit", "1200", "--test-limit", "100",
            "--batch-size", "16", "--threads", "1", "--metrics", "\(dir)/metrics.jsonl", "--output",
            "\(dir)/model.safetensors", "--checkpoint", "\(dir)/checkpoint.safetensors", "--checkpoint-every", "1000",
        ]
    }

    /// A rank that stops doing anything (as a SIGSTOPped or hung process does) is found by the others'
    /// watchdogs: the job ends at the timeout with exit status 124 and one line naming the rank.
    @Test(.enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"), .timeLimit(.minutes(10)))
    func aStalledRankEndsTheSimulationAtTheCollectiveTimeout() throws {
        try stalledRankEndsTheJob(mpi: false)
    }

    /// The same under mpirun.
    @Test(
        .enabled(if: mpirun != nil, "mpirun is not installed (apt-get install openmpi-bin)"),
        .enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"), .timeLimit(.minutes(10)))
    func aStalledRankEndsTheMPIJobAtTheCollectiveTimeout() throws {
        try stalledRankEndsTheJob(mpi: true)
    }

    private func stalledRankEndsTheJob(mpi: Bool) throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let arguments = Self.flags(dir, steps: 50) + ["--inject-stall", "2@3", "--collective-timeout", "4"]
        let started = Date()
        let outcome = try runRanks(4, mpi: mpi, arguments)
        let seconds = Date().timeIntervalSince(started)
        #expect(outcome.status == 124, "stderr: \(outcome.stderr)")
        let errors = outcome.errorLines.filter { $0.hasPrefix("alexnet-dist: error: ") }
        #expect(errors.count == 1, "stderr: \(outcome.stderr)")
        #expect(
            errors.first?.contains(
                "longer than --collective-timeout 4 s: rank 2 is training at step 3, outside any collective")
                == true, "stderr: \(outcome.stderr)")
        #expect(seconds < 60, "the job took \(seconds) s")
    }

    /// SIGTERM: the run stops after the current step with a checkpoint, says how to continue and exits 75;
    /// `--resume auto` then ends with the model of an uninterrupted run, byte for byte; a further
    /// `--resume auto` has nothing to do.
    @Test(.enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"), .timeLimit(.minutes(10)))
    func aSignalStopsWithACheckpointAndResumingIsExact() throws {
        let dir = try Self.directory(), whole = try Self.directory()
        defer { for path in [dir, whole] { try? FileManager.default.removeItem(atPath: path) } }
        let process = BackgroundProcess(tool, Self.flags(dir, steps: 40))
        // Once a step is logged, signal.
        Self.waitForMetrics(in: dir, containing: "\"event\":\"step\"")
        kill(process.pid, SIGTERM)
        let stopped = try process.wait()
        let text = stopped.stderr
        #expect(stopped.status == 75, "stderr: \(text)")
        #expect(text.contains("to continue, run the same command with --resume auto: alexnet-dist train"), "\(text)")
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/model.safetensors"), "a stopped run writes no model")
        let checkpoints = try FileManager.default.contentsOfDirectory(atPath: dir).filter {
            $0.hasPrefix("checkpoint-step")
        }
        #expect(checkpoints.count == 1, "\(checkpoints)")

        let resumed = try runTool(Self.flags(dir, steps: 40) + ["--resume", "auto"])
        #expect(resumed.status == 0, "stderr: \(resumed.stderr)")
        let uninterrupted = try runTool(Self.flags(whole, steps: 40))
        #expect(uninterrupted.status == 0)
        let a = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/model.safetensors"))
        let b = try Data(contentsOf: URL(fileURLWithPath: "\(whole)/model.safetensors"))
        #expect(a == b, "the resumed model differs from the uninterrupted one")

        let again = try runTool(Self.flags(dir, steps: 40) + ["--resume", "auto"])
        #expect(again.status == 0)
        #expect(
            again.stderr.contains(
                "alexnet-dist: nothing to do: the checkpoint is at step 40, and --max-steps 40 counts from the start of the run"
            ),
            "stderr: \(again.stderr)")
    }

    /// `--lr 100`: stopped at the first non-finite value with exit status 3, no model written; `evaluate`
    /// refuses a model file holding a NaN.
    @Test(.enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"), .timeLimit(.minutes(10)))
    func divergenceWritesNothingAndNaNModelsAreRefused() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let diverged = try runTool(Self.flags(dir, steps: 100) + ["--lr", "100"])
        #expect(diverged.status == 3, "stderr: \(diverged.stderr)")
        #expect(diverged.errorLines.last?.hasPrefix("alexnet-dist: error: training diverged at step ") == true)
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/model.safetensors"))

        #expect(try runTool(Self.flags(dir, steps: 1)).status == 0)
        let path = "\(dir)/model.safetensors"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes.replaceSubrange((bytes.count - 4)..<bytes.count, with: [0xFF, 0xFF, 0xFF, 0x7F])  // a NaN
        // As another writer would leave it: no checksum (its entry blanked; JSON allows the spaces), so the
        // NaN itself is what is refused.
        let entry = Array(#""checksum":"crc32:"#.utf8)
        let at = try #require(bytes.indices.first { bytes[$0...].starts(with: entry) })
        bytes.replaceSubrange(at..<(at + entry.count + 10), with: repeatElement(0x20, count: entry.count + 10))
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        try expectOneLineError(
            ["evaluate", path, "--test-limit", "100"], mentioning: "holds a non-finite value")
    }

    /// A model whose weights are finite but whose outputs overflow (the last weight matrix at float32's
    /// largest value): `evaluate` says so in one line and exits 3 instead of printing a NaN cross-entropy.
    @Test(.enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"), .timeLimit(.minutes(10)))
    func evaluatingAModelWhoseOutputsOverflowFails() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try runTool(Self.flags(dir, steps: 1)).status == 0)
        let path = "\(dir)/model.safetensors"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let headerLength = bytes[0..<8].withUnsafeBytes { Int($0.loadUnaligned(as: UInt64.self).littleEndian) }
        let header = try #require(
            try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLength)])) as? [String: Any])
        // The weight matrix stored last: the classifier's.
        let offsets = header.compactMap { name, entry -> [Int]? in
            guard name.hasSuffix("weight"), let entry = entry as? [String: Any] else { return nil }
            return entry["data_offsets"] as? [Int]
        }
        let last = try #require(offsets.max { $0[1] < $1[1] })
        for at in stride(from: 8 + headerLength + last[0], to: 8 + headerLength + last[1], by: 4) {
            bytes.replaceSubrange(at..<(at + 4), with: [0xFF, 0xFF, 0x7F, 0x7F])  // 3.4028235e38
        }
        let entry = Array(#""checksum":"crc32:"#.utf8)
        let at = try #require(bytes.indices.first { bytes[$0...].starts(with: entry) })
        bytes.replaceSubrange(at..<(at + entry.count + 10), with: repeatElement(0x20, count: entry.count + 10))
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let outcome = try runTool(["evaluate", path, "--test-limit", "100"])
        #expect(outcome.status == 3, "stderr: \(outcome.stderr)")
        #expect(outcome.errorLines.count == 1, "stderr: \(outcome.stderr)")
        #expect(
            outcome.stderr.hasPrefix("alexnet-dist: error: \(path): the model's outputs on "), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("are not finite (mean cross-entropy nan)"), "\(outcome.stderr)")
        #expect(outcome.stdout.isEmpty, "\(outcome.stdout)")
    }

    /// Outputs in a directory that cannot be made, or on a disk too small (a full checkpoint directory is
    /// found at the first write): one line naming the path, a non-zero exit, no temporary files left.
    @Test(.enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"))
    func unwritableOutputsAreOneLine() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.createFile(atPath: "\(dir)/file", contents: Data())
        try expectOneLineError(
            Self.flags(dir, steps: 1) + ["--output", "\(dir)/file/model.safetensors"],
            mentioning:
                "cannot write \(dir)/file/model.safetensors: its directory \(dir)/file cannot be created (\(dir)/file is a file, not a directory)"
        )
        let left = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".") }
        #expect(left.isEmpty, "\(left)")
    }
}
