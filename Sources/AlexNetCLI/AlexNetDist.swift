import ArgumentParser
import Foundation

@main
struct AlexNetDist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alexnet-dist",
        abstract: "Train AlexNet on the CPU with oneDNN kernels.",
        discussion: """
            With no subcommand, `train` runs with its defaults: the `small` variant on Fashion-MNIST.
            """,
        subcommands: [Train.self, Evaluate.self, Describe.self, Bench.self, Report.self, SelfCheck.self],
        defaultSubcommand: Train.self)

    /// Parses and runs; any error is reported on one line of stderr with a non-zero exit status.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }  // --help, --version
            let message = message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            FileHandle.standardError.write(Data("alexnet-dist: error: \(message)\n".utf8))
            let code = exitCode(for: error)
            Foundation.exit(code == .success ? 1 : code.rawValue)
        }
    }
}

/// Prints a line on stderr (progress and diagnostics; results go to stdout).
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
