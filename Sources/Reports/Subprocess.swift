import Foundation
import Processes

/// Programs the reports (gnuplot) and the experiments (sweeps, calibration) start.
public enum Subprocess {
    /// Runs `command` (looked up on PATH) in `directory` to its end; returns its exit status and its standard
    /// output and error, merged.
    public static func launch(
        _ command: [String], directory: String? = nil
    ) throws -> (status: Int32, output: String) {
        let result = try ChildProcess(command, directory: directory, mergeErrorIntoOutput: true).run()
        return (result.status, result.outputText)
    }

    /// Runs a program to its end, passing its progress and errors through `log`; throws, naming the command
    /// and its exit status, if it fails (after logging the end of its output).
    public static func run(_ command: [String], log: (String) -> Void) throws {
        let (status, text) = try launch(command)
        let lines = text.split(separator: "\n").map(String.init).filter { !$0.contains("Warning: sch_htb") }
        guard status == 0 else {
            for line in lines.suffix(15) { log("    | " + line) }
            throw ReportError("\(command.prefix(4).joined(separator: " ")) … exited with status \(status)")
        }
        for line in lines where line.hasPrefix("step ") || line.contains("error") { log("    | " + line) }
    }
}
