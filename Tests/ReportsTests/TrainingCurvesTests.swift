import Foundation
import Reports
import Testing

@Suite struct TrainingCurvesTests {
    static func write(_ lines: [String]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("curves-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = "\(dir)/metrics.jsonl"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let run = [
        #"{"event":"plan","step":0}"#,
        #"{"event":"step","step":10,"epoch":1,"loss":2.0,"learning_rate":0.01,"steps_per_epoch":20}"#,
        #"{"event":"step","step":20,"epoch":1,"loss":1.5,"learning_rate":0.01,"steps_per_epoch":20}"#,
        #"{"event":"evaluation","split":"validation","step":20,"top1_accuracy":0.5}"#,
        #"{"event":"evaluation","split":"test","step":20,"top1_accuracy":0.6}"#,
        #"{"event":"step","step":30,"epoch":2,"loss":null,"learning_rate":0.001,"steps_per_epoch":20}"#,
    ]

    /// The windows, the test evaluations (not validation's), the learning-rate changes, a NaN loss (null),
    /// the run's name from its folder, and positions by epoch.
    @Test func aMetricsFileReadsAsCurves() throws {
        let path = try Self.write(Self.run)
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let curves = try TrainingCurves(metrics: path)
        #expect(curves.windows.map(\.step) == [10, 20, 30])
        #expect(curves.windows[2].loss.isNaN)
        #expect(curves.tests == [TrainingCurves.Evaluation(step: 20, top1Accuracy: 0.6)])
        #expect(curves.learningRateChanges.map(\.step) == [30])
        #expect(curves.learningRateChanges.map(\.rate) == [0.001])
        #expect(abs(curves.learningRateChanges[0].factor - 0.1) < 1e-12)
        #expect(curves.name == ((path as NSString).deletingLastPathComponent as NSString).lastPathComponent)
        #expect(curves.position(30, on: .epoch) == 1.5)
    }

    /// A line that is not JSON, a step record without its loss, a file without steps: one message naming
    /// the file and line.
    @Test func badMetricsAreNamed() throws {
        for (lines, message) in [
            (["{\"event\":\"step\",\"step\":1"], "line 1: not a JSON object"),
            ([#"{"event":"step","step":1,"learning_rate":0.1}"#], #"line 1: step record without a number "loss""#),
            ([#"{"event":"plan","step":0}"#], "no step records"),
        ] {
            let path = try Self.write(lines)
            defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
            #expect {
                try TrainingCurves(metrics: path)
            } throws: { error in
                "\(error)".hasPrefix(path) && "\(error)".contains(message)
            }
        }
    }

    /// Two runs drawn into one PNG (gnuplot), written whole.
    @Test(.enabled(if: Gnuplot.isAvailable, "gnuplot is not installed (apt-get install gnuplot-nox)"))
    func twoRunsAreDrawnIntoOnePicture() throws {
        let a = try Self.write(Self.run), b = try Self.write(Self.run)
        let dir = (a as NSString).deletingLastPathComponent
        defer {
            for p in [a, b] { try? FileManager.default.removeItem(atPath: (p as NSString).deletingLastPathComponent) }
        }
        let picture = "\(dir)/curves.png"
        try TrainingCurves.plot(
            [try TrainingCurves(metrics: a), try TrainingCurves(metrics: b)], axis: .epoch, output: picture)
        let bytes = try #require(FileManager.default.contents(atPath: picture))
        #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a PNG")
        #expect(bytes.count > 10_000)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["curves.png", "metrics.jsonl"])
    }
}
