import Compute
import Foundation

/// The checkpoints of one run. `--checkpoint DIR/NAME.safetensors` names a series of files
/// `DIR/NAME-step<N>.safetensors`, one per checkpointed step: the newest `keep` are kept, `--resume auto`
/// takes the newest that loads, and a checkpoint written at step N removes the series' files of later
/// steps (an abandoned earlier run's, or a branch this run has left).
public struct CheckpointSeries: Sendable, Equatable {
    public let directory: String
    public let stem: String
    public let fileExtension: String

    public init(template path: String) {
        let url = URL(fileURLWithPath: path)
        directory = url.deletingLastPathComponent().path
        let name = url.lastPathComponent
        if let dot = name.lastIndex(of: "."), dot != name.startIndex {
            stem = String(name[..<dot])
            fileExtension = String(name[name.index(after: dot)...])
        } else {
            stem = name
            fileExtension = "safetensors"
        }
    }

    /// The file of the checkpoint at `step`.
    public func path(step: Int) -> String { "\(directory)/\(fileName(step: step))" }

    private func fileName(step: Int) -> String { "\(stem)-step\(step).\(fileExtension)" }

    /// The step of a file name of the series, or nil.
    func step(ofFile name: String) -> Int? {
        let prefix = "\(stem)-step", suffix = ".\(fileExtension)"
        guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.count > prefix.count + suffix.count else {
            return nil
        }
        let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
        guard digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), digits.count <= 15,
            let step = Int(digits), fileName(step: step) == name
        else { return nil }
        return step
    }

    /// The series' files on disk, newest step first.
    public func existing() -> [(step: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name in step(ofFile: name).map { ($0, "\(directory)/\(name)") } }
            .sorted { $0.step > $1.step }
    }

    /// After writing the checkpoint of `step`: removes the series' files of later steps and all but the
    /// newest `keep` of the others. Returns the paths removed.
    @discardableResult
    public func prune(written step: Int, keep: Int) -> [String] {
        var kept = 0
        var removed: [String] = []
        for file in existing() {
            if file.step <= step {
                kept += 1
                if kept <= keep { continue }
            }
            if unlink(file.path) == 0 { removed.append(file.path) }
        }
        return removed
    }

    /// Removes what writers killed while writing the series left behind (`AtomicFile`'s temporary files
    /// whose process is gone). Returns the paths removed.
    @discardableResult
    public func removeLeftovers() -> [String] {
        AtomicFile.removeLeftovers(in: directory) { step(ofFile: $0) != nil }
    }
}
