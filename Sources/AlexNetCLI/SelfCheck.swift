import ArgumentParser
import Collectives
import Foundation
import Launch

struct SelfCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selfcheck",
        abstract: "Run a fixed battery of collectives and print one digest line per check and rank.",
        discussion:
            "Under mpirun the MPI communicator runs it; with --simulate K, K in-process ranks do. The lines must match."
    )

    @Option(help: "Run K in-process ranks instead of MPI.") var simulate: Int?

    func validate() throws {
        if let simulate, !(1...64).contains(simulate) {
            throw ValidationError("--simulate must be between 1 and 64, got \(simulate)")
        }
    }

    func run() throws {
        // The ranks start as `train`'s do (one process, K threads or an MPI job, each watched).
        let lines = try Launch(simulate: simulate).run(threads: 1, overlap: true) { comm, rank in
            let mine = try CollectiveSelfCheck.run(comm, overlap: rank.overlap)
            // Rank 0 prints every rank's lines, so that output from different processes cannot interleave.
            let all = try comm.allGatherBytes(Array(mine.joined(separator: "\n").utf8), collective: "selfcheck")
            return all.map { String(decoding: $0, as: UTF8.self) }
        }
        if let lines { print(lines.joined(separator: "\n")) }
    }
}
