import Foundation

/// Charts rendered by gnuplot (Debian's `gnuplot-nox`, `pngcairo` terminal): each chart is a data file and
/// a script kept beside its PNG, so a reader can re-render or restyle it.
public struct Gnuplot {
    public let directory: String

    public init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// Whether gnuplot can be run.
    public static var isAvailable: Bool {
        (try? Subprocess.launch(["gnuplot", "--version"]))?.status == 0
    }

    /// Writes `name.dat` (whitespace-separated rows; strings quoted) and `name.gp` (the common header, then
    /// `script`, which refers to the data as `'name.dat'`), runs gnuplot in the folder and returns
    /// `name.png`'s file name.
    @discardableResult
    public func render(
        _ name: String, data: [[String]], script: String, size: (Int, Int) = (900, 520)
    ) throws
        -> String
    {
        let rows = data.map { $0.joined(separator: " ") }.joined(separator: "\n") + "\n"
        try rows.write(toFile: "\(directory)/\(name).dat", atomically: true, encoding: .utf8)
        let header = """
            set terminal pngcairo size \(size.0),\(size.1) enhanced font 'DejaVu Sans,11' noenhanced
            set output '\(name).png'
            set grid ytics lc rgb '#dddddd'
            set border 3
            set tics nomirror
            set key outside right top
            set datafile missing '?'

            """
        try (header + script + "\n").write(toFile: "\(directory)/\(name).gp", atomically: true, encoding: .utf8)
        let (status, message) = try Subprocess.launch(["gnuplot", "\(name).gp"], directory: directory)
        guard status == 0 else {
            throw ReportError("gnuplot failed on \(directory)/\(name).gp: \(message.prefix(400))")
        }
        return "\(name).png"
    }

    /// A string as a gnuplot data field (quoted, so spaces survive).
    public static func quoted(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "'") + "\"" }
}
