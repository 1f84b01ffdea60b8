import Foundation
import Processes
import Testing

/// The built `alexnet-dist` beside the test bundle.
let tool: String = {
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    return bundle.appendingPathComponent("alexnet-dist").path
}()

let fashionMNISTInstalled = FileManager.default.fileExists(
    atPath: "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")

struct Outcome {
    var status: Int32
    var stdout: String
    var stderr: String
    var seconds = 0.0
    var errorLines: [Substring] { stderr.split(separator: "\n") }
}

func runTool(_ arguments: [String]) throws -> Outcome {
    try runProcess(tool, arguments)
}

/// Runs `executable` to its end (Note [waiting for a child]); past `timeout` seconds its process group is
/// killed and the outcome says so, so that a test fails instead of hanging the run.
func runProcess(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Double = 600
) throws -> Outcome {
    try BackgroundProcess.outcome(executable, arguments, environment: environment, timeout: timeout) { _ in }
}

/// A child run to its end on a thread of its own (Note [waiting for a child]), for tests that act on it while
/// it runs (signal it, kill a rank): its pid once started, its outcome when it has ended.
final class BackgroundProcess: @unchecked Sendable {
    private let condition = NSCondition()
    private var started: pid_t = 0
    private var ended: Result<Outcome, Error>?

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Double = 600) {
        Thread.detachNewThread { [self] in
            let result = Result {
                try BackgroundProcess.outcome(executable, arguments, environment: environment, timeout: timeout) {
                    pid in
                    condition.withLock {
                        started = pid
                        condition.broadcast()
                    }
                }
            }
            condition.withLock {
                ended = result
                condition.broadcast()
            }
        }
    }

    /// The child's pid, once it has started (0 if it could not start).
    var pid: pid_t {
        condition.withLock {
            while started == 0 && ended == nil { condition.wait() }
            return started
        }
    }

    var isRunning: Bool { condition.withLock { ended == nil } }

    /// Waits for the child's end.
    func wait() throws -> Outcome {
        try condition.withLock {
            while ended == nil { condition.wait() }
            return try ended!.get()
        }
    }

    static func outcome(
        _ executable: String, _ arguments: [String], environment: [String: String], timeout: Double,
        started: (pid_t) -> Void
    ) throws -> Outcome {
        let start = Date()
        let result = try ChildProcess(
            [executable] + arguments, environment: ChildProcess.environment(adding: environment), timeout: timeout
        ).run(started: started)
        let late =
            result.timedOut
            ? "\n(killed after \(Int(timeout)) s: \(([executable] + arguments).joined(separator: " ")))" : ""
        return Outcome(
            status: result.status, stdout: result.outputText, stderr: result.errorText + late,
            seconds: Date().timeIntervalSince(start))
    }
}

/// Runs the tool expecting failure: a non-zero exit and exactly one line on stderr containing `fragment`.
func expectOneLineError(
    _ arguments: [String], mentioning fragment: String,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let outcome = try runTool(arguments)
    #expect(outcome.status != 0, "exit status for \(arguments)", sourceLocation: sourceLocation)
    #expect(outcome.errorLines.count == 1, "stderr: \(outcome.stderr)", sourceLocation: sourceLocation)
    #expect(outcome.stderr.contains(fragment), "stderr: \(outcome.stderr)", sourceLocation: sourceLocation)
    #expect(
        outcome.stderr.hasPrefix("alexnet-dist: error: "), "stderr: \(outcome.stderr)", sourceLocation: sourceLocation)
}

@Suite struct CommandLineTests {
    @Test func describePrintsTheReferenceParameterCounts() throws {
        for (arguments, count) in [
            (["--variant", "paper"], "62,378,344"), (["--variant", "paper", "--groups", "2"], "60,965,224"),
            (["--variant", "owt"], "61,100,840"), (["--variant", "small"], "2,566,410"),
        ] {
            let outcome = try runTool(["describe"] + arguments)
            #expect(outcome.status == 0)
            #expect(outcome.stdout.contains("total parameters: \(count)"), "\(outcome.stdout)")
        }
    }

    /// `describe --ranks K --fc-group-size G` prints the 2-D plan with its bytes per channel; a G that does
    /// not divide K is one error line.
    @Test func describePrintsTheGroupedPlan() throws {
        let outcome = try runTool([
            "describe", "--variant", "owt", "--ranks", "8", "--fc-group-size", "4", "--batch-size", "32", "--rank", "5",
        ])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("hybrid parallel plan: owt, 8 ranks in 2 groups of 4"), "\(outcome.stdout)")
        #expect(outcome.stdout.contains("shard 1 of 4, held by 2 ranks"), "\(outcome.stdout)")
        #expect(outcome.stdout.contains("per channel: features"), "\(outcome.stdout)")
        #expect(outcome.stdout.contains("shard-gradients"), "\(outcome.stdout)")
        try expectOneLineError(
            ["describe", "--variant", "owt", "--ranks", "8", "--fc-group-size", "3"],
            mentioning: "must divide the 8 ranks")
        try expectOneLineError(
            ["describe", "--fc-group-size", "2"], mentioning: "--fc-group-size applies with --ranks")
    }

    @Test(arguments: [
        (["train", "--batch-size", "-3"], "--batch-size"),
        (["train", "--variant", "alexnet9"], "alexnet9"),
        (["train", "--lr", "fast"], "fast"),
        (["train", "--lr", "-1"], "--lr"),
        (["train", "--epochs", "0"], "--epochs"),
        (["train", "--groups", "2"], "--groups 2 applies to the paper variant only"),
        (["train", "--schedule", "plateau"], "--validation"),
        (["train", "--milestones", "ten"], "ten"),
        (["train", "--milestones", "3,,4"], "3,,4"),
        (["train", "--threads", "0"], "--threads"),
        (["bench", "compute", "--steps", "0"], "--steps"),
        (["evaluate"], "model"),
        // Training flags mean nothing to evaluate: refused, not ignored.
        (["evaluate", "m.safetensors", "--train-folder", "/nonexistent"], "--train-folder"),
        (["evaluate", "m.safetensors", "--train-images", "x.idx"], "--train-images"),
        (["evaluate", "m.safetensors", "--split", "train"], "--split applies to --shards"),
        (["evaluate", "m.safetensors", "--shards", "s", "--test-folder", "t"], "--shards and --test-folder"),
        (["evaluate", "m.safetensors", "--per-class-limit", "3"], "--per-class-limit applies to image folders"),
        (["train", "--variant", "owt", "--shards", "s", "--crop-padding", "4"], "--crop-padding applies to IDX"),
        (["train", "--classes", "0"], "--classes must be 1…100000"),
        (["train", "--prefetch", "-1"], "--prefetch"),
        (["train", "--codec", "lz4"], "unknown codec 'lz4'"),
        (["bench", "allreduce", "--codecs", "none,,bf16"], "unknown codec ''"),
        (["bench", "allreduce", "--gradients", "vgg"], "vgg"),
        (["bench", "scaling", "--variant", "resnet"], "resnet"),
    ])
    func nonsenseFlagsGiveOneLineErrors(_ arguments: [String], _ fragment: String) throws {
        try expectOneLineError(arguments, mentioning: fragment)
    }

    @Test func aMissingDataDirectoryIsNamed() throws {
        try expectOneLineError(
            ["train", "--data", "/nonexistent/fmnist"],
            mentioning: "/nonexistent/fmnist/train-images-idx3-ubyte.gz: no such file")
    }

    @Test func aTruncatedIDXFileIsNamed() throws {
        let dir = NSTemporaryDirectory() + "alexnet-dist-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let images = dir + "/images.idx", labels = dir + "/labels.idx"
        // 10 images of 28×28 announced, 100 bytes present.
        try Data([0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28] + Array(repeating: 7, count: 100)).write(
            to: URL(fileURLWithPath: images))
        try Data([0, 0, 8, 1, 0, 0, 0, 10] + Array(repeating: 1, count: 10)).write(to: URL(fileURLWithPath: labels))
        try expectOneLineError(
            ["train", "--train-images", images, "--train-labels", labels],
            mentioning: "\(images): truncated: 10×28×28 needs 7840 data bytes, found 100")
    }

    /// IDX files that announce no images: the file and the problem named, not the validation split's words.
    @Test func anEmptyIDXFileIsNamed() throws {
        let dir = NSTemporaryDirectory() + "alexnet-dist-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let images = dir + "/images.idx", labels = dir + "/labels.idx"
        try Data([0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28]).write(to: URL(fileURLWithPath: images))
        try Data([0, 0, 8, 1, 0, 0, 0, 0]).write(to: URL(fileURLWithPath: labels))
        try expectOneLineError(
            ["train", "--train-images", images, "--train-labels", labels],
            mentioning: "\(images): holds no images (its header counts 0), expected at least one")
    }

    /// An output path that names a FIFO (as a device node would) is refused before training, and left as
    /// it was: the atomic rename would have replaced it by a regular file.
    @Test func aNonRegularOutputIsRefused() throws {
        let dir = NSTemporaryDirectory() + "alexnet-dist-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fifo = dir + "/model.fifo"
        #expect(mkfifo(fifo, 0o644) == 0)
        try expectOneLineError(
            [
                "train", "--train-limit", "64", "--test-limit", "64", "--batch-size", "32", "--output", fifo,
                "--metrics", dir + "/m.jsonl", "--checkpoint-every", "0",
            ],
            mentioning: "\(fifo): is a FIFO, expected a regular file (written whole and renamed into place)")
        var status = stat()
        #expect(stat(fifo, &status) == 0 && status.st_mode & S_IFMT == S_IFIFO, "the FIFO is still there")
    }

    @Test func anUnwritableOutputIsReportedBeforeTraining() throws {
        let dir = NSTemporaryDirectory() + "alexnet-dist-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try expectOneLineError(
            [
                "train", "--train-limit", "64", "--test-limit", "64", "--batch-size", "32", "--output", dir,
                "--metrics", dir + "/m.jsonl", "--checkpoint-every", "0",
            ],
            mentioning: "\(dir): is a directory, expected a file path")
    }

    @Test func aMissingModelFileIsNamed() throws {
        try expectOneLineError(
            ["evaluate", "/nonexistent/model.safetensors"], mentioning: "/nonexistent/model.safetensors: no such file")
    }

    @Test(.enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"))
    func trainThenEvaluateAndRejectAnotherVariant() throws {
        let dir = NSTemporaryDirectory() + "alexnet-dist-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = dir + "/small.safetensors"
        let train = try runTool([
            "train", "--max-steps", "2", "--batch-size", "32", "--train-limit", "256", "--test-limit", "64",
            "--output", model, "--metrics", dir + "/metrics.jsonl", "--checkpoint", dir + "/checkpoint.safetensors",
        ])
        #expect(train.status == 0, "\(train.stderr)")
        #expect(train.stderr.contains("step 2/2"))

        let evaluation = try runTool(["evaluate", model, "--test-limit", "100", "--json"])
        #expect(evaluation.status == 0, "\(evaluation.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(evaluation.stdout.utf8)) as? [String: Any]
        #expect(json?["examples"] as? Int == 100)
        #expect(json?["variant"] as? String == "small")
        for key in ["top1_error", "top5_error", "mean_cross_entropy"] { #expect(json?[key] is Double, "\(key)") }

        try expectOneLineError(
            ["evaluate", model, "--variant", "paper"], mentioning: "holds variant 'small', expected 'paper'")

        let corrupt = dir + "/corrupt.safetensors"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: model))
        bytes.replaceSubrange(8..<40, with: Data(repeating: 0x7B, count: 32))
        try bytes.write(to: URL(fileURLWithPath: corrupt))
        try expectOneLineError(["evaluate", corrupt], mentioning: corrupt)
    }
}
