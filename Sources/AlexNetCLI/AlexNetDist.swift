import ArgumentParser
import Collectives
import Foundation

@main
struct AlexNetDist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alexnet-dist",
        abstract: "Train AlexNet on the CPU with oneDNN kernels.",
        discussion: """
            With no subcommand, `train` runs with its defaults: the `small` variant on Fashion-MNIST.

            Input files are validated in full before use; a file that breaks a rule is refused with one line \
            naming the file and the field (README, "File formats"). Model files and checkpoints: safetensors, \
            F32 tensors tiling the data exactly, names unique, metadata strings, the file's CRC-32 in \
            `checksum` (written by alexnet-dist, checked when present), the variant's tensors and shapes, \
            finite values. IDX: zero magic, type 0x08, 3 (images) or 1 (labels) dimensions whose product is \
            the data's length, gzip intact. Shards: meta.json of format version 1, each index a whole number \
            of 24-byte contiguous entries with the CRC-32 meta.json records, labels below the classes. \
            Images: JPEG or PNG by content, complete, at most 32768 a side and 2^27 pixels. Hostfiles: \
            'HOST slots=N' lines, N from 1 to 1048576.
            """,
        subcommands: [
            Train.self, Evaluate.self, Predict.self, Prepare.self, Describe.self, Plan.self, Bench.self, Report.self,
            Plot.self,
            SelfCheck.self, LaunchCommand.self,
        ],
        defaultSubcommand: Train.self)

    /// Parses and runs; any error is reported on one line of stderr with a non-zero exit status (the
    /// statuses of `ExitStatus` for runs that end early; README, "When things go wrong").
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as RunEndingError {
            let line = error.description.split(separator: "\n").first.map(String.init) ?? ""
            printError("alexnet-dist: \(error.exitStatus == 0 ? "" : "error: ")\(line)")
            Foundation.exit(error.exitStatus)
        } catch let code as ExitCode where code.rawValue == ExitStatus.stopped {
            Foundation.exit(code.rawValue)  // the trainer has said where it stopped and how to continue
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }  // --help, --version
            let message = message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            FileHandle.standardError.write(Data("alexnet-dist: error: \(launcherRank)\(message)\n".utf8))
            let code = exitCode(for: error)
            Foundation.exit(code == .success ? 1 : code.rawValue)
        }
    }
}

/// "rank R: " when an MPI launcher started this process as rank R of several, else nothing: errors raised
/// before the ranks connect (bad flags, a missing data file) are each rank's own. Every rank but 0 waits a
/// moment first, so that when every rank fails alike the launcher has ended the job with rank 0's line
/// alone (Note [every rank's errors]).
private var launcherRank: String {
    let environment = ProcessInfo.processInfo.environment
    guard let rank = ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"].lazy.compactMap({ environment[$0] }).first,
        let size = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"].lazy.compactMap({ environment[$0] }).first.flatMap({ Int($0) }),
        size > 1
    else { return "" }
    if rank != "0" { Thread.sleep(forTimeInterval: 1) }
    return "rank \(rank): "
}

/// Whether this process is rank 0 of an MPI launch, or not launched by MPI at all: the process that speaks
/// for the job before the ranks connect.
var speaksForTheJob: Bool {
    let environment = ProcessInfo.processInfo.environment
    return ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"].lazy.compactMap({ environment[$0] }).first ?? "0" == "0"
}

/// Prints a line on stderr (progress and diagnostics; results go to stdout).
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
