import Compute
import Foundation

/// A results folder of a scaling sweep:
///
/// - `results.jsonl`: one `ScalingPoint` per line, the raw record every figure of the report comes from;
/// - `results.csv`: the same points as a table (regenerated from the JSON lines);
/// - `calibration.json`: the links' and codecs' measured parameters (`Calibration`);
/// - `traces/*.json`: one step of every rank of each point, as Chrome traces.
///
/// Every file is written atomically (temporary file, fsync, rename): an interrupted sweep leaves the
/// points it finished.
public struct ScalingResults {
    public let directory: String
    public private(set) var points: [ScalingPoint]

    public var jsonLinesPath: String { directory + "/results.jsonl" }
    public var csvPath: String { directory + "/results.csv" }
    public var calibrationPath: String { directory + "/calibration.json" }
    public var tracesDirectory: String { directory + "/traces" }

    /// Opens `directory` (created if missing), reading the points already recorded.
    public init(directory: String, create: Bool = true) throws {
        self.directory = directory
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard create else { throw ReportError("results folder \(directory) does not exist") }
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } else if !isDirectory.boolValue {
            throw ReportError("\(directory) is a file, expected a results folder")
        }
        points = try ScalingResults.read(directory + "/results.jsonl")
    }

    static func read(_ path: String) throws -> [ScalingPoint] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ReportError("\(path) cannot be read as UTF-8 text")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        var points: [ScalingPoint] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            do {
                points.append(try decoder.decode(ScalingPoint.self, from: Data(line.utf8)))
            } catch {
                throw ReportError("\(path), line \(i + 1): not a scaling point (\(describe(error)))")
            }
        }
        return points
    }

    /// The point recorded for `key`, if any.
    public func point(key: String) -> ScalingPoint? { points.last { $0.key == key } }

    /// Records `point` (replacing one with the same key) and rewrites both tables.
    public mutating func record(_ point: ScalingPoint) throws {
        points.removeAll { $0.key == point.key }
        points.append(point)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        var lines: [UInt8] = []
        for p in points {
            lines += Array(try encoder.encode(p))
            lines.append(10)
        }
        try AtomicFile.write(jsonLinesPath, data: lines)
        let csv = ([ScalingPoint.csvHeader] + points.map(\.csvRow)).map { $0.map(csvField).joined(separator: ",") }
        try AtomicFile.write(csvPath, data: Array((csv.joined(separator: "\n") + "\n").utf8))
    }

    /// The trace file of `point` (relative to the folder).
    public static func traceName(_ point: ScalingPoint) -> String {
        "traces/\(point.variant)-\(point.mode)-\(point.codec)-\(point.ranks)r-\(point.link.name).json"
            .replacingOccurrences(of: ":", with: "_").replacingOccurrences(of: "+", with: "_")
    }
}

private func csvField(_ s: String) -> String {
    s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
}

func describe(_ error: Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let key, _): return "field '\(key.stringValue)' is missing"
    case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
        DecodingError.dataCorrupted(let context):
        let path = context.codingPath.map(\.stringValue).joined(separator: ".")
        return path.isEmpty ? context.debugDescription : "field '\(path)': \(context.debugDescription)"
    default: return "\(error)"
    }
}
