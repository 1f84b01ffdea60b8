import Datasets
import Foundation
import Testing

/// The real data path as a user runs it (`prepare`, `train --shards`, `evaluate --shards --ten-crop`,
/// `predict`), and `prepare`, `train --shards`, `predict` and `bench input` on bad input: one line naming the
/// file.
@Suite struct PrepareCommandTests {
    /// An ImageNet-layout tree: train/ and val/ of `classes`, 4 and 2 JPEGs of 300×260 each.
    static func tree(at root: String, classes: [String] = ["cat", "dog", "owl"]) throws {
        let encoder = try JPEGEncoder()
        for (split, count) in [("train", 4), ("val", 2)] {
            for (c, name) in classes.enumerated() {
                let dir = "\(root)/\(split)/\(name)"
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                for i in 0..<count {
                    let (w, h) = (300, 260)
                    let pixels = (0..<(w * h * 3)).map { k in
                        UInt8(truncatingIfNeeded: (k / 3 % w) * (c + 1) + k % 3 * 60 + i * 7)
                    }
                    let bytes = try encoder.encode(RGBImage(width: w, height: h, pixels: pixels), quality: 90)
                    FileManager.default.createFile(atPath: "\(dir)/\(i).jpg", contents: Data(bytes))
                }
            }
        }
    }

    @Test func preparedShardsTrainEvaluateOnTenCropsAndPredict() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flow-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.tree(at: "\(dir)/images")
        let prepared = try runTool(["prepare", "\(dir)/images", "\(dir)/shards", "--threads", "2"])
        #expect(prepared.status == 0, "\(prepared.stderr)")
        #expect(prepared.stdout.contains("prepared train 12, val 6 images of 3 classes"), "\(prepared.stdout)")
        let trained = try runTool([
            "train", "--variant", "owt", "--shards", "\(dir)/shards", "--batch-size", "4", "--max-steps", "2",
            "--threads", "1", "--loader-threads", "2", "--ten-crop", "--output", "\(dir)/m.safetensors",
            "--metrics", "\(dir)/metrics.jsonl", "--checkpoint-every", "0",
        ])
        #expect(trained.status == 0, "\(trained.stderr)")
        let evaluated = try runTool([
            "evaluate", "\(dir)/m.safetensors", "--shards", "\(dir)/shards", "--ten-crop", "--json", "--threads", "1",
        ])
        #expect(evaluated.status == 0, "\(evaluated.stderr)")
        let figures = try JSONSerialization.jsonObject(with: Data(evaluated.stdout.utf8)) as? [String: Any]
        #expect(figures?["views"] as? Int == 10 && figures?["examples"] as? Int == 6, "\(evaluated.stdout)")
        let predicted = try runTool(["predict", "\(dir)/m.safetensors", "\(dir)/images/val/owl/1.jpg", "--json"])
        #expect(predicted.status == 0, "\(predicted.stderr)")
        let entries = try JSONSerialization.jsonObject(with: Data(predicted.stdout.utf8)) as? [[String: Any]]
        let classes = (entries?.first?["top"] as? [[String: Any]])?.compactMap { $0["class"] as? String }
        // The model has a head of the data set's 3 classes, named.
        #expect(classes.map(Set.init) == ["cat", "dog", "owl"], "\(predicted.stdout)")
        try expectOneLineError(
            ["evaluate", "\(dir)/m.safetensors", "--ten-crop"], mentioning: "--ten-crop needs --shards")
    }

    @Test func badInputIsOneLineNamingTheFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prep-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: "\(dir)/empty-root", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try expectOneLineError(
            ["prepare", "/nonexistent/images", "\(dir)/out"], mentioning: "/nonexistent/images: no such directory")
        try expectOneLineError(
            ["prepare", "\(dir)/empty-root", "\(dir)/out"],
            mentioning: "\(dir)/empty-root: no class folders (expected <class>/<image>.jpg)")
        try expectOneLineError(["prepare", dir, "\(dir)/out", "--quality", "0"], mentioning: "--quality must be 1…100")
        try expectOneLineError(
            ["train", "--variant", "owt", "--shards", "\(dir)/none"],
            mentioning: "\(dir)/none/meta.json: cannot be read (prepare the data set with alexnet-dist prepare)")
        try expectOneLineError(
            ["bench", "input", "--shards", "\(dir)/none"], mentioning: "\(dir)/none/meta.json: cannot be read")
        FileManager.default.createFile(atPath: "\(dir)/not-an-image.jpg", contents: Data("hello".utf8))
        try expectOneLineError(
            ["predict", "\(dir)/missing.safetensors", "\(dir)/not-an-image.jpg"], mentioning: "missing.safetensors")
    }

    /// `mpirun -n 4` on prepared shards (`paper`, the paper's augmentation, 2 decoding threads per rank)
    /// writes the model `--simulate 4` writes with one decoding thread.
    @Test(
        .enabled(if: mpirun != nil, "mpirun is not installed (apt-get install openmpi-bin)"), .timeLimit(.minutes(10)))
    func mpirunEqualsTheSimulationOnShards() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mpi-shards-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.tree(at: "\(dir)/images", classes: ["ant", "bee", "cat", "dog"])
        #expect(try runTool(["prepare", "\(dir)/images", "\(dir)/shards", "--threads", "2"]).status == 0)
        let flags = [
            "train", "--variant", "paper", "--shards", "\(dir)/shards", "--batch-size", "2", "--max-steps", "2",
            "--threads", "1", "--metrics", "\(dir)/metrics.jsonl", "--checkpoint-every", "0",
        ]
        let simulated = try runTool(flags + ["--simulate", "4", "--output", "\(dir)/simulated.safetensors"])
        #expect(simulated.status == 0, "\(simulated.stderr)")
        let mpi = try runProcess(
            mpirun!,
            ["-n", "4", "--oversubscribe", "--mca", "mpi_yield_when_idle", "1", tool] + flags + [
                "--loader-threads", "2", "--output", "\(dir)/mpi.safetensors",
            ], environment: TrainParallelTests.mpiEnvironment)
        #expect(mpi.status == 0, "\(mpi.stderr)")
        let a = FileManager.default.contents(atPath: "\(dir)/simulated.safetensors")
        let b = FileManager.default.contents(atPath: "\(dir)/mpi.safetensors")
        #expect(a != nil && a == b, "model files differ")
    }
}
