import Foundation
import Testing

@testable import Reports

/// A results folder written by hand (as `bench scaling` would) and the report made from it.
@Suite struct ScalingReportTests {
    static let gnuplot = Gnuplot.isAvailable

    static func pointLine(
        mode: String, codec: String = "none", ranks: Int, link: String, step: Double, bytes: Double,
        phases: (Double, Double, Double, Double, Double), compression: Double = 1
    ) -> String {
        let (parallelism, scheme) = mode == "data" ? ("data", "null") : ("hybrid", "\"\(mode.suffix(1))\"")
        let bits = link == "local" ? "null" : (link == "1gbit" ? "1000000000" : "500000000")
        let images = Double(ranks * 32) / step
        return """
            {"batch_per_rank":32,"bytes_sent_by_channel":{"gradients":\(bytes)},"bytes_sent_per_rank":\(bytes),\
            "codec":"\(codec)","command":["alexnet-dist"],"date":"2026-11-25T00:00:00Z",\
            "fp32_bytes_per_rank":\(bytes),"gradient_compression_ratio":\(compression),"images":"synthetic",\
            "images_per_second":\(images),"images_per_second_max":\(images),"images_per_second_min":\(images),\
            "link":{"bits_per_second":\(bits),"name":"\(link)"},"median_step_seconds":\(step),\
            "parallelism":"\(parallelism)","phases":{"communication_exposed":\(phases.4),"communication_overlapped":0,\
            "compression":0,"conv_backward":\(phases.1),"conv_forward":\(phases.0),"fully_connected":\(phases.2),\
            "other":0,"step_seconds":\(step),"update":\(phases.3)},"ranks":\(ranks),"scheme":\(scheme),\
            "step_seconds":[\(step)],"steps":1,"threads_per_rank":1,"variant":"owt"}
            """
    }

    /// A results folder of three points (one rank; data and hybrid (b) on 4 ranks at 1 Gbit/s), `extra`
    /// point lines, and a calibration of the 1 Gbit/s link on 2 and 4 ranks.
    static func folder(extra: [String] = []) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("scaling-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let lines = [
            pointLine(mode: "data", ranks: 1, link: "local", step: 2.5, bytes: 0, phases: (0.6, 1.6, 0.2, 0.1, 0)),
            pointLine(
                mode: "data", ranks: 4, link: "1gbit", step: 7.6, bytes: 366e6, phases: (1.2, 3.5, 0.4, 0.2, 2.3)),
            pointLine(
                mode: "hybrid-b", ranks: 4, link: "1gbit", step: 5.2, bytes: 28e6, phases: (1.2, 3.2, 0.4, 0.1, 0.3)),
        ]
        try ((lines + extra).joined(separator: "\n") + "\n").write(
            toFile: directory + "/results.jsonl", atomically: true, encoding: .utf8)
        var calibration = Calibration()
        calibration.cores = 2
        calibration.machine = "test CPU"
        let link = try Link(parsing: "1gbit")
        for k in [2, 4] {
            for n in [1 << 20, 1 << 23] {
                let sent = 4 * Double(n) * 2 * Double(k - 1) / Double(k)
                calibration.allreduce.append(
                    .init(
                        link: link, ranks: k, elements: n, bytesSentPerRank: sent,
                        seconds: 1e-3 * Double(2 * (k - 1)) + sent / 1.1e8, mpiSeconds: nil, mpiAlgorithm: "default"))
            }
        }
        calibration.allreduce.append(
            .init(
                link: link, ranks: 4, elements: 1 << 24, bytesSentPerRank: 1e8, seconds: 1.2, mpiSeconds: 0.95,
                mpiAlgorithm: "ring"))
        try calibration.save(directory + "/calibration.json")
        return directory
    }

    @Test(.enabled(if: gnuplot, "needs gnuplot (apt-get install gnuplot-nox)"))
    func theReportHasItsHeadlineChartsAndModelAndRegeneratesFromItsCopies() throws {
        // A hybrid (a) point measured three times (Note [drift rule]), still +100% off its reference.
        let reference = """
            "reference":{"communication_exposed":0,"communication_overlapped":0,"compression":0,"conv_backward":0,\
            "fully_connected":0,"other":0,"step_seconds":0,"update":0,"conv_forward":0.3}
            """
        let retried = Self.pointLine(
            mode: "hybrid-a", ranks: 4, link: "1gbit", step: 6.0, bytes: 28e6, phases: (1.2, 3.2, 0.4, 0.1, 0.3)
        ).replacingOccurrences(of: "\"variant\":\"owt\"}", with: "\"variant\":\"owt\",\"attempts\":3,\(reference)}")
        let source = try Self.folder(extra: [retried])
        defer { try? FileManager.default.removeItem(atPath: source) }
        let output = source + "/report"
        let path = try ScalingReport(results: try ScalingResults(directory: source, create: false)).write(to: output)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(
            text.contains("| 1 Gbit/s | 4 | 16.84 (16.84–16.84) | hybrid (b) none | 24.62 (24.62–24.62) | **1.46×**"),
            "\(text)")
        #expect(text.contains("Largest error:"))
        #expect(text.contains("| measured s | its steps s | predicted s |") && text.contains("| 7.600 | 7.600–7.600 |"))
        #expect(text.contains("| 1 Gbit/s | 4 | 16777216 | 950 ms |"), "\(text)")
        #expect(text.contains("2014 note"))
        #expect(text.contains("Measured again (Note [drift rule]): 1 of the 4 points"), "\(text)")
        #expect(text.contains("(2 extra runs in all)") && text.contains("and 1 stayed beyond 10%"))
        for chart in ["throughput", "efficiency", "phases", "bytes", "link", "model", "extrapolation"] {
            let png = try Data(contentsOf: URL(fileURLWithPath: "\(output)/charts/\(chart).png"))
            #expect(png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]), "\(chart).png is not a PNG")
        }
        // The report folder holds the raw results: the report regenerates from it alone, identically.
        let again = try ScalingReport(results: try ScalingResults(directory: output, create: false)).write(to: output)
        #expect(try String(contentsOfFile: again, encoding: .utf8) == text)
    }

    @Test func aDamagedResultsLineIsNamed() throws {
        let directory = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/results.jsonl"))
        handle.seekToEndOfFile()
        handle.write(Data("{\"variant\":\"owt\"}\n".utf8))
        try handle.close()
        #expect {
            _ = try ScalingResults(directory: directory, create: false)
        } throws: { error in
            "\(error)".contains("results.jsonl, line 4: not a scaling point (field 'parallelism' is missing)")
        }
        #expect {
            _ = try ScalingResults(directory: directory + "/nowhere", create: false)
        } throws: { "\($0)".contains("does not exist") }
    }

    @Test func linksParseOrSayWhy() throws {
        #expect(try Link(parsing: "500mbit").bitsPerSecond == 5e8)
        #expect(try Link(parsing: "local").isLocal)
        #expect(try Link(parsing: "2gbit").description == "2 Gbit/s")
        #expect(throws: ReportError.self) { try Link(parsing: "fast") }
    }
}
