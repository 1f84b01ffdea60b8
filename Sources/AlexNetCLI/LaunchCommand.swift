import ArgumentParser
import Compute
import Dispatch
import Foundation
import Launch
import Processes

struct LaunchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch",
        abstract: "Run `train` with mpirun on a hostfile's hosts, restarting on the survivors when a host dies.",
        discussion: """
            alexnet-dist launch --hostfile hosts --max-restarts 3 -- train --variant owt --shards DATA \
            --checkpoint-every 500 …   runs mpirun --hostfile hosts -n SLOTS alexnet-dist train … --resume auto. \
            When a run fails because a rank died or a host stopped answering, that host is dropped and the run \
            starts again from the newest checkpoint on the others (the FC layers re-shard; without --batch-size \
            the global batch and learning rates stay the recipe's). Bad input, divergence and a stop on a \
            signal are not retried. Under Slurm, use sbatch --requeue with --resume auto instead \
            (cluster/slurm/train.sbatch).
            """)

    @Option(help: "Open MPI hostfile: 'HOST slots=N' lines.") var hostfile: String
    @Option(help: "Restarts on the surviving hosts before giving up.") var maxRestarts: Int = 3
    @Option(
        help:
            "The launcher and its options, split at spaces (e.g. 'mpirun --mca btl self,tcp', or 'cluster/vcluster mpirun'); --hostfile and -n are added."
    )
    var launcher: String = "mpirun"
    @Option(help: "Seconds a host has to answer the probe after a failure (a one-rank 'true' there).")
    var probeTimeout: Double = 20
    @Argument(parsing: .postTerminator, help: "What each rank runs: train and its options (after --).")
    var command: [String] = []

    func validate() throws {
        guard maxRestarts >= 0 else { throw ValidationError("--max-restarts must be ≥ 0, got \(maxRestarts)") }
        guard probeTimeout > 0 else { throw ValidationError("--probe-timeout must be > 0, got \(probeTimeout)") }
        guard command.first == "train" else {
            throw ValidationError("expected '-- train OPTIONS…' after launch's own options")
        }
        guard command.contains(where: { $0.hasPrefix("--checkpoint-every") }) else {
            throw ValidationError("a restart continues from a checkpoint: give train --checkpoint-every N")
        }
    }

    func run() throws {
        let hosts = try Hostfile(path: hostfile)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "alexnet-dist-launch-\(getpid())"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let launcherWords = launcher.split(separator: " ").map(String.init)
        let loop = RestartLoop(
            launcher: launcherWords, hostfile: hosts, maxRestarts: maxRestarts,
            command: [LaunchedProcess.ownExecutable] + command, directory: directory)
        let timeout = probeTimeout
        let status = try loop.run(
            execute: { try LaunchedProcess.run($0, passThrough: true) },
            probe: { host in
                let single = "\(directory)/probe-\(host.name)"
                guard (try? AtomicFile.write(single, data: Array("\(host.name) slots=1\n".utf8))) != nil else {
                    return false
                }
                let probe = try? LaunchedProcess.run(
                    launcherWords + ["--hostfile", single, "-n", "1", "true"], passThrough: false, timeout: timeout)
                return probe?.status == 0
            }, say: printError)
        if status != 0 { throw ExitCode(status) }
    }
}

/// What `launch` runs: a child whose output passes through to this one's (and is kept), with SIGINT,
/// SIGTERM and SIGUSR1 forwarded to it.
enum LaunchedProcess {
    /// This binary, for the ranks.
    static var ownExecutable: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
    }

    /// Runs `arguments` (looked up on PATH); returns its exit status (128 + signal when killed) and output.
    static func run(
        _ arguments: [String], passThrough: Bool, timeout: Double? = nil
    ) throws -> (
        status: Int32, output: String
    ) {
        signal(SIGPIPE, SIG_IGN)
        var forwarding: [DispatchSourceSignal] = []
        defer { for source in forwarding { source.cancel() } }
        let result = try ChildProcess(arguments, timeout: timeout).run(
            started: { pid in
                forwarding = [SIGINT, SIGTERM, SIGUSR1].map { signalNumber in
                    signal(signalNumber, SIG_IGN)
                    let source = DispatchSource.makeSignalSource(signal: signalNumber)
                    source.setEventHandler { kill(pid, signalNumber) }
                    source.resume()
                    return source
                }
            },
            received: { data, isError in
                if passThrough { (isError ? FileHandle.standardError : FileHandle.standardOutput).write(data) }
            })
        return (result.status, String(decoding: result.output + result.error, as: UTF8.self))
    }
}
