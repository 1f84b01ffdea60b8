import Foundation
import Testing

/// The corrupt-input suite through the command line, one damaged file per reader: each ends in one error
/// line (the last on stderr) naming the file, a non-zero exit, within 2 s, without allocating more than the file's size plus a
/// bounded amount. (The readers meet every truncation and bit flip in their own suites:
/// SafeTensorsCorruptionTests, ModelFileCorruptionTests, IDXCorruptionTests, ShardCorruptionTests,
/// ImageCorruptionTests, FrameCorruptionTests.)
@Suite(.serialized) struct CorruptInputTests {
    /// What the tool may hold beyond the damaged file: the runtime, oneDNN and a `small` model.
    static let bound = 400 << 20

    static func damaged(_ bytes: [UInt8], _ change: (inout [UInt8]) -> Void) -> [UInt8] {
        var copy = bytes
        change(&copy)
        return copy
    }

    @Test(
        .enabled(if: fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist"),
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: "/usr/bin/time"), "needs GNU time (apt-get install time)"),
        .timeLimit(.minutes(10)))
    func everyReaderRefusesADamagedFileInOneLine() throws {
        let dir = NSTemporaryDirectory() + "corrupt-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = "\(dir)/model.safetensors", checkpoint = "\(dir)/ck.safetensors"
        let small = [
            "--max-steps", "2", "--train-limit", "64", "--test-limit", "32", "--batch-size", "16", "--threads", "1",
        ]
        let trained = try runTool(
            ["train"] + small + ["--output", model, "--checkpoint", checkpoint, "--metrics", "\(dir)/m.jsonl"])
        try #require(trained.status == 0, "\(trained.stderr)")
        let modelBytes = [UInt8](FileManager.default.contents(atPath: model)!)
        // The checkpoint series: ck-stepN.safetensors.
        let written = try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasPrefix("ck-step") }
        let checkpointBytes = [UInt8](FileManager.default.contents(atPath: "\(dir)/\(try #require(written))")!)
        let images = [UInt8](
            FileManager.default.contents(atPath: "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")!)
        let labels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"
        let jpeg = [UInt8](
            FileManager.default.contents(atPath: "\(Self.repository)/Scripts/fuzz-corpus/image/rgb.jpg")!)

        // (what, file name, bytes, the command that reads it)
        let cases: [(String, String, [UInt8], [String])] = [
            ("model truncated", "cut.safetensors", Array(modelBytes.prefix(modelBytes.count / 2)), ["evaluate"]),
            (
                "model weight flipped", "flip.safetensors", Self.damaged(modelBytes) { $0[$0.count - 5] ^= 0x08 },
                ["evaluate"]
            ),
            ("model header length", "length.safetensors", Self.damaged(modelBytes) { $0[6] ^= 0x01 }, ["evaluate"]),
            (
                "checkpoint momentum flipped", "ck-flip.safetensors",
                Self.damaged(checkpointBytes) { $0[$0.count - 9] ^= 0x40 }, ["train"] + small + ["--resume"]
            ),
            (
                "gzip'd IDX truncated", "t10k-images-idx3-ubyte.gz", Array(images.prefix(images.count / 3)),
                ["evaluate", model, "--test-labels", labels, "--test-images"]
            ),
            (
                "gzip'd IDX size field", "t10k-images-idx3-ubyte.gz",
                Self.damaged(images) { $0.replaceSubrange(($0.count - 4)..., with: [0xFF, 0xFF, 0xFF, 0x7F]) },
                ["evaluate", model, "--test-labels", labels, "--test-images"]
            ),
            (
                "JPEG truncated", "class-a/cut.jpg", Array(jpeg.prefix(jpeg.count / 2)),
                ["prepare", "--on-bad-image", "fail", "\(dir)/images", "\(dir)/prepared"]
            ),
            (
                "hostfile slots", "hosts", Array("node1 slots=2\nnode2 slots=x\n".utf8),
                ["launch", "--hostfile"]
            ),
        ]
        for (what, name, bytes, command) in cases {
            let path = name.contains("/") ? "\(dir)/images/\(name)" : "\(dir)/\(name)"
            try FileManager.default.createDirectory(
                atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            var arguments = command
            if command.first == "evaluate" && command.count == 1 {
                arguments += [path, "--test-limit", "32"]
            } else if command.last == "--resume" || command.last == "--test-images" || command.last == "--hostfile" {
                arguments.append(path)
            }
            if command.first == "launch" { arguments += ["--", "train", "--checkpoint-every", "1"] }
            // GNU time measures the peak RSS: a child spawned by this (large) test process would report
            // this process's peak as its own (exec folds the shared memory map's peak into the child's).
            let measured = "\(dir)/peak-rss"
            var outcome = try runProcess("/usr/bin/time", ["-f", "%M", "-o", measured, tool] + arguments)
            let peak =
                (Int((try? String(contentsOfFile: measured, encoding: .utf8))?.split(separator: "\n").last ?? "") ?? -1)
                << 10
            outcome.stderr = outcome.stderr.split(separator: "\n").filter {
                !$0.hasPrefix("Command exited with non-zero status")
            }.map { $0 + "\n" }.joined()
            print(
                String(
                    format: "corrupt input through the CLI: %@: exit %d in %.2f s, peak RSS %d MiB (file %d KiB): %@",
                    what, outcome.status, outcome.seconds, peak >> 20, bytes.count >> 10,
                    outcome.stderr.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(outcome.status != 0, "\(what)")
            // One error line, the last (prepare prints what it found before it starts).
            let errors = outcome.errorLines.filter { $0.hasPrefix("alexnet-dist: error: ") }
            #expect(errors.count == 1 && outcome.errorLines.last == errors.first, "\(what): \(outcome.stderr)")
            #expect(outcome.stderr.contains(name.split(separator: "/").last!), "\(what): \(outcome.stderr)")
            // The seconds are a figure (printed above, under 2 s on a quiet machine); this bound only catches a
            // hang or a reader that works through data it should have refused.
            #expect(outcome.seconds < 30, "\(what): \(outcome.seconds) s")
            #expect(peak > 0 && peak < bytes.count + Self.bound, "\(what): \(peak) bytes")
            if name.contains("/") { try? FileManager.default.removeItem(atPath: path) }
        }
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
}
