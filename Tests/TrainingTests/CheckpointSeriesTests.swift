import Foundation
import Processes
import Testing

@testable import Training

/// The files of a run's checkpoints: named by step, pruned to the newest N, and what killed writers left.
@Suite struct CheckpointSeriesTests {
    @Test func filesAreNamedByStepAndPrunedToTheNewest() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("series-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let series = CheckpointSeries(template: "\(dir)/checkpoint.safetensors")
        #expect(series.path(step: 120) == "\(dir)/checkpoint-step120.safetensors")
        #expect(series.step(ofFile: "checkpoint-step120.safetensors") == 120)
        for name in [
            "checkpoint-step.safetensors", "checkpoint-step012.safetensors", "checkpoint-step1.json",
            "other-step1.safetensors", "checkpoint-step-1.safetensors",
        ] {
            #expect(series.step(ofFile: name) == nil, "\(name)")
        }
        for step in [10, 20, 30, 40] {
            FileManager.default.createFile(atPath: series.path(step: step), contents: Data())
        }
        // Written at step 20 (a resumed run): the later steps belong to a branch it has left.
        let removed = series.prune(written: 20, keep: 1)
        #expect(Set(removed) == Set([10, 30, 40].map(series.path(step:))))
        #expect(series.existing().map(\.step) == [20])
    }

    /// A temporary file whose writer is gone is removed; a live writer's is not.
    @Test func leftoversOfKilledWritersAreRemoved() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("leftovers-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var gone: pid_t = 0
        _ = try ChildProcess(["/bin/true"], timeout: 60).run(started: { gone = $0 })
        let dead = "\(dir)/.ck-step10.safetensors.tmp-\(gone)"
        let live = "\(dir)/.ck-step20.safetensors.tmp-\(getpid())"
        let foreign = "\(dir)/.notes.txt.tmp-\(gone)"
        for path in [dead, live, foreign] { FileManager.default.createFile(atPath: path, contents: Data([1])) }
        let removed = CheckpointSeries(template: "\(dir)/ck.safetensors").removeLeftovers()
        #expect(removed == [dead])
        #expect(FileManager.default.fileExists(atPath: live) && FileManager.default.fileExists(atPath: foreign))
    }
}
