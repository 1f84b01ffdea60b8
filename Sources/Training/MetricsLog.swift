import Compute
import Foundation

/// Appends one JSON object per line to a metrics file, written through after every line, so a crashed run
/// keeps every record written before the crash and `tail -f` shows progress. Non-finite numbers (a NaN
/// loss) are written as `null`.
public final class MetricsLog {
    public struct WriteError: Error, CustomStringConvertible {
        public let path: String
        public let problem: String
        public var description: String { "\(path): \(problem)" }
    }

    private let path: String
    private let handle: FileHandle?

    /// - Parameters:
    ///   - path: nil disables logging.
    ///   - continuation: nil replaces an existing file; else its records are trimmed to where the run
    ///     continues (Note [resuming a log]; the file is rewritten atomically) and the run's appended.
    public init(path: String?, continuing continuation: LogContinuation? = nil) throws {
        self.path = path ?? ""
        guard let path else {
            handle = nil
            return
        }
        var status = stat()
        let isRegular = stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFREG
        if let continuation, isRegular, let existing = FileManager.default.contents(atPath: path) {
            let kept = existing.split(separator: UInt8(ascii: "\n")).filter { line in
                guard let record = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                    return false
                }
                guard let at = record["step"] as? Int else { return true }
                let event = record["event"] as? String
                return continuation.keeps(
                    step: at,
                    writtenAgain: event == "plan" || (event == "evaluation" && continuation.evaluatesAgain))
            }
            do {
                try AtomicFile.write(path, data: kept.flatMap { [UInt8]($0) + [UInt8(ascii: "\n")] })
            } catch {
                throw WriteError(path: path, problem: "cannot keep the resumed run's records: \(error)")
            }
        }
        // open(2), not FileManager.createFile, which replaces the path by renaming a new file over it (a
        // `--metrics /dev/null` would lose its device node); a fresh run truncates, a resumed one appends.
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (continuation == nil ? O_TRUNC : O_APPEND), 0o644)
        guard fd >= 0 else {
            throw WriteError(path: path, problem: "cannot open the metrics file: \(String(cString: strerror(errno)))")
        }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        self.handle = handle
    }

    /// Writes `fields` as one JSON line with sorted keys.
    public func record(_ fields: [String: Any]) throws {
        guard let handle else { return }
        let clean = fields.mapValues { value -> Any in
            if let number = value as? Double, !number.isFinite { return NSNull() }
            return value
        }
        do {
            let data = try JSONSerialization.data(withJSONObject: clean, options: [.sortedKeys])
            try handle.write(contentsOf: data + Data("\n".utf8))
        } catch {
            throw WriteError(path: path, problem: "cannot append a metrics record: \(error.localizedDescription)")
        }
    }

    deinit { try? handle?.close() }
}
