import ArgumentParser
import Collectives
import Foundation
import MPIBackend

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
        let lines: [String]
        if let simulate {
            lines = try InProcessCommunicator.run(size: simulate) { try CollectiveSelfCheck.run($0) }.flatMap { $0 }
        } else {
            let world = try MPICommunicator.world()
            defer { MPICommunicator.finalize() }
            let mine = try CollectiveSelfCheck.run(world, overlap: world.allowsCallsFromOtherThreads)
            // Rank 0 prints every rank's lines, so that output from different processes cannot interleave.
            let all = try world.allGatherBytes(Array(mine.joined(separator: "\n").utf8), collective: "selfcheck")
            guard world.rank == 0 else { return }
            lines = all.map { String(decoding: $0, as: UTF8.self) }
        }
        print(lines.joined(separator: "\n"))
    }
}
