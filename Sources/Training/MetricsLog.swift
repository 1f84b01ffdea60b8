import Foundation

/// Appends one JSON object per line to a metrics file, flushed after every line, so a crashed run keeps
/// every record written before the crash and `tail -f` shows progress.
public final class MetricsLog {
    private let handle: FileHandle?

    /// - Parameter path: nil disables logging. An existing file is replaced.
    public init(path: String?) throws {
        guard let path else {
            handle = nil
            return
        }
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        handle = FileHandle(forWritingAtPath: path)
    }

    /// Writes `fields` as one JSON line with sorted keys.
    public func record(_ fields: [String: Any]) {
        guard let handle, let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]) else {
            return
        }
        handle.write(data + Data("\n".utf8))
    }

    deinit { try? handle?.close() }
}
