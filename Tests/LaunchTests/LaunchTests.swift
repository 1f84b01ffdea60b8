import Collectives
import Compute
import Foundation
import Launch
import Testing

/// The launch decision and what each launch runs.
@Suite struct LaunchTests {
    static let mpirunEnvironment = ["OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_RANK": "1"]

    @Test func theEnvironmentAndSimulateDecide() throws {
        #expect(try Launch(simulate: nil, environment: [:]) == .single)
        #expect(try Launch(simulate: 4, environment: ["PATH": "/usr/bin"]) == .simulated(ranks: 4))
        #expect(try Launch(simulate: nil, environment: Self.mpirunEnvironment) == .mpi)
        // Slurm's srun through PMIx or PMI-2.
        #expect(try Launch(simulate: nil, environment: ["PMIX_RANK": "0"]) == .mpi)
        #expect(try Launch(simulate: nil, environment: ["PMI_RANK": "0", "PMI_SIZE": "2"]) == .mpi)
    }

    @Test func simulatingInsideAnMPIJobIsRefused() {
        #expect {
            try Launch(simulate: 2, environment: Self.mpirunEnvironment)
        } throws: {
            "\($0)" == "--simulate runs every rank in this process; do not start it under mpirun"
        }
    }

    @Test func ranksShareTheCoresByDefault() {
        #expect(Launch.defaultThreads(ranksOnThisMachine: 1, cores: 2) == 2)
        #expect(Launch.defaultThreads(ranksOnThisMachine: 4, cores: 2) == 1)
        #expect(Launch.defaultThreads(ranksOnThisMachine: 3, cores: 8) == 2)
        #expect(Launch.defaultThreads(ranksOnThisMachine: 0, cores: 8) == 8)
    }

    /// One process runs the body once, on the calling thread, with a one-rank communicator whose
    /// collectives are copies.
    @Test func singleRunsOneRankOnTheCallingThread() throws {
        let caller = Thread.current.description
        let result = try Launch.single.run(threads: 1, overlap: true) { comm, launched in
            var values: [Float] = [1.5, -2]
            try values.withUnsafeMutableBufferPointer { try comm.allReduce($0) }
            return
                "\(comm.rank)/\(comm.size) \(launched.overlap) \(values) \(Thread.current.description == caller) \(ComputeEngine.threadCount)"
        }
        #expect(result == "0/1 true [1.5, -2.0] true 1")
    }

    /// K threads: every rank runs the body; rank 0's result comes back; an error on any rank ends the run.
    @Test func simulatedRunsEveryRankAndReturnsRankZeros() throws {
        let result = try Launch.simulated(ranks: 3).run(threads: 1, overlap: false) { comm, _ in
            var values: [Float] = [Float(comm.rank + 1)]
            try values.withUnsafeMutableBufferPointer { try comm.allReduce($0) }
            return "rank \(comm.rank) of \(comm.size): \(values[0])"
        }
        #expect(result == "rank 0 of 3: 6.0")
        struct Failure: Error {}
        #expect(throws: (any Error).self) {
            try Launch.simulated(ranks: 2).run(threads: 1, overlap: false) { comm, _ -> Int in
                if comm.rank == 1 { throw Failure() }
                var values: [Float] = [1]
                try values.withUnsafeMutableBufferPointer { try comm.allReduce($0) }
                return 0
            }
        }
    }
}
