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

    /// - Parameter path: nil disables logging. An existing file is replaced.
    public init(path: String?) throws {
        self.path = path ?? ""
        guard let path else {
            handle = nil
            return
        }
        guard FileManager.default.createFile(atPath: path, contents: nil),
            let handle = FileHandle(forWritingAtPath: path)
        else {
            throw WriteError(path: path, problem: "cannot create the metrics file")
        }
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
