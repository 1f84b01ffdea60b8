import Collectives
import Compute
import Foundation

/// ## Note [restart on the survivors]
///
/// Open MPI 4.1 has no fault-tolerant MPI (ULFM): when a host dies the job's communicator is gone, and the
/// job ends (the watchdog or mpirun ends every rank, Note [every rank's errors]). `alexnet-dist launch` is
/// the restart loop torchrun users know: it runs `mpirun --hostfile … train … --resume auto`; when a run
/// fails because a rank died or its host stopped answering, it drops that host (a host that fails a probe,
/// else the host of the rank mpirun reports dead, else the rank the watchdog names), writes the smaller
/// hostfile and starts again from the newest checkpoint on the survivors, up to `--max-restarts` times.
/// The checkpoint holds the whole model, so the FC layers re-shard over the new rank count; the data order
/// continues from the checkpoint's position. Failures that would recur (bad input, divergence, replicas
/// that differ) and a stop on a signal end the loop at once.
///
/// K changes the step: without `--batch-size` each rank takes ⌊128/K⌋ examples, so the global batch and
/// the learning rates stay the recipe's (Note [the recipe across ranks]); with `--batch-size B` the global
/// batch becomes K′·B and the rates follow the linear scaling rule for it. Either way the run after a restart
/// is a valid continuation but not the bits an uninterrupted K-rank run would have produced.
public struct RestartLoop {
    /// The launcher and its options before `--hostfile` (`mpirun …`, or `cluster/vcluster mpirun`).
    public var launcher: [String]
    public var hostfile: Hostfile
    public var maxRestarts: Int
    /// What each rank runs: the binary and its arguments (`--resume auto` is added when missing).
    public var command: [String]
    /// Where each attempt's hostfile is written.
    public var directory: String

    public init(launcher: [String], hostfile: Hostfile, maxRestarts: Int, command: [String], directory: String) {
        self.launcher = launcher
        self.hostfile = hostfile
        self.maxRestarts = maxRestarts
        self.command = command
        self.directory = directory
    }

    /// Exit statuses that end the loop: the same run would fail the same way, or it was asked to stop.
    public static let final: Set<Int32> = [
        0, ExitStatus.diverged, ExitStatus.replicasDiffer, ExitStatus.stopped, ExitStatus.interrupted,
    ]

    /// Runs attempts until one succeeds, fails for good, or the restarts are spent; returns the last exit
    /// status.
    /// - Parameters:
    ///   - execute: runs a command line, passing its output through; returns its status and output.
    ///   - probe: whether a host answers (a one-rank launch there).
    public func run(
        execute: ([String]) throws -> (status: Int32, output: String), probe: (Hostfile.Host) -> Bool,
        say: (String) -> Void
    ) throws -> Int32 {
        var hosts = hostfile
        var command = self.command
        if !command.contains("--resume") { command += ["--resume", "auto"] }
        var restarts = 0
        while true {
            guard hosts.slots >= 2 else {
                throw LaunchError(
                    "\(hosts.hosts.map(\.name).joined(separator: ", ")) left: a run across ranks needs at least 2 slots"
                )
            }
            let path = "\(directory)/hostfile-\(restarts)"
            try AtomicFile.write(path, data: Array(hosts.text.utf8))
            let (status, output) = try execute(launcher + ["--hostfile", path, "-n", String(hosts.slots)] + command)
            if RestartLoop.final.contains(status) { return status }
            guard let failed = RestartLoop.failedHosts(output: output, hostfile: hosts, probe: probe) else {
                say(
                    "alexnet-dist launch: the run failed (exit status \(status)) with no rank or host lost: not restarting"
                )
                return status
            }
            guard restarts < maxRestarts else {
                say("alexnet-dist launch: \(failed.why); no restarts left (--max-restarts \(maxRestarts))")
                return status
            }
            restarts += 1
            hosts.hosts.removeAll { failed.hosts.contains($0.name) }
            say(
                "alexnet-dist launch: \(failed.why); restart \(restarts) of \(maxRestarts) on \(hosts.hosts.count) hosts (\(hosts.slots) ranks: \(hosts.hosts.map(\.name).joined(separator: ", "))) from the newest checkpoint"
            )
        }
    }

    /// The hosts to drop after a failed run, and why; nil when no rank or host was lost (a plain error).
    public static func failedHosts(
        output: String, hostfile: Hostfile, probe: (Hostfile.Host) -> Bool
    ) -> (hosts: [String], why: String)? {
        let silent = hostfile.hosts.filter { !probe($0) }.map(\.name)
        if !silent.isEmpty { return (silent, "host \(silent.joined(separator: ", ")) does not answer") }
        // mpirun: "…noticed that process rank 2 with PID 4321 on node … exited on signal 9 (Killed)."
        // The watchdog: "…: rank 2 has not been heard from for 31 s (stopped, hung or unreachable)".
        for pattern in [#"process rank (\d+) with PID"#, #"rank (\d+) has not been heard from"#] {
            if let rank = firstNumber(matching: pattern, in: output), let host = hostfile.host(ofRank: rank) {
                let line = output.split(separator: "\n").first { $0.contains("rank \(rank)") }
                let said =
                    line.map { ": " + $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: ["."]) } ?? ""
                return ([host.name], "rank \(rank) on host \(host.name) was lost\(said)")
            }
        }
        // mpirun: "ORTE has lost communication with a remote daemon … Remote daemon: … on node HOST".
        for host in hostfile.hosts
        where output.contains("on node \(host.name)") && output.contains("lost communication") {
            return ([host.name], "mpirun lost the daemon on host \(host.name)")
        }
        return nil
    }

    private static func firstNumber(matching pattern: String, in text: String) -> Int? {
        guard let expression = try? NSRegularExpression(pattern: pattern),
            let match = expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
            let range = Range(match.range(at: 1), in: text)
        else { return nil }
        return Int(text[range])
    }
}
