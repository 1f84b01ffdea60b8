import Foundation
import Testing

/// `prepare`, `train --shards`, `predict` and `bench input` on bad input: one line naming the file.
@Suite struct PrepareCommandTests {
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
}
