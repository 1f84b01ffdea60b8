import CMPI
import Collectives
import Foundation

/// Note [one agreement per collective], over MPI.
extension MPICommunicator {
    public func decline(_ collective: String, because error: Error) throws -> Never {
        try agree("decline", collective, [], failure: error)
        throw error  // agree throws `error`; not reached
    }

    /// Note [one agreement per collective]: every rank hashes its statement (operation, collective, values,
    /// whether its own arguments failed their checks); the hash and one value to share (`sharing`, a byte
    /// collective's length) travel in one `MPI_Allgather` of the same width whatever the operation, so ranks
    /// in different collectives still meet. Equal hashes: returns every rank's `sharing`, in rank order.
    /// Otherwise the ranks, all seeing the same hashes, exchange their statements in full; a rank whose
    /// arguments failed throws its own error, the others an error naming the first rank that failed or
    /// differs, and what it said.
    @discardableResult
    func agree(
        _ operation: String, _ collective: String, _ values: [Int], failure: Error? = nil, sharing: Int = 0
    ) throws -> [Int] {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in operation.utf8 + [0] + collective.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        for v in values + [failure == nil ? 0 : 1] {
            hash = (hash ^ UInt64(bitPattern: Int64(v))) &* 0x0000_0100_0000_01B3
        }
        var mine = [Int64(bitPattern: hash), Int64(sharing)]
        var all = [Int64](repeating: 0, count: 2 * size)
        try call(collective, MPI_Allgather(&mine, 2, cmpi_int64(), &all, 2, cmpi_int64(), comm))
        let hashes = (0..<size).map { all[2 * $0] }
        if hashes.allSatisfy({ $0 == hashes[0] }) {
            if let failure { throw failure }  // every rank failed alike: each reports its own error
            return (0..<size).map { Int(all[2 * $0 + 1]) }
        }
        let statement = CollectiveStatement(
            operation: operation, collective: collective, values: values,
            failure: failure.map(CollectiveStatement.reason))
        let statements = try gatherStatements(statement, collective)
        if let failure { throw failure }
        throw CollectiveStatement.disagreement(statements, rank: rank, collective: collective)
            ?? CollectiveError(rank: rank, collective: collective, problem: "the ranks' statements differ")
    }

    /// Every rank's statement in full, in rank order: the error path of `agree` (two more calls, made only
    /// when the hashes differ, by every rank alike).
    private func gatherStatements(
        _ statement: CollectiveStatement, _ collective: String
    ) throws
        -> [CollectiveStatement]
    {
        let mine = Array((try? JSONEncoder().encode(statement)) ?? Data())
        var length = Int32(mine.count)
        var lengths = [Int32](repeating: 0, count: size)
        try call(collective, MPI_Allgather(&length, 1, cmpi_int(), &lengths, 1, cmpi_int(), comm))
        let offsets = prefixSums(lengths.map { Int($0) })
        var received = [UInt8](repeating: 0, count: max(lengths.map { Int($0) }.reduce(0, +), 1))
        try mine.withUnsafeBytes { m in
            try received.withUnsafeMutableBytes { r in
                try call(
                    collective,
                    MPI_Allgatherv(
                        m.baseAddress, length, cmpi_byte(), r.baseAddress, lengths, offsets.map { Int32($0) },
                        cmpi_byte(), comm))
            }
        }
        return (0..<size).map { q in
            let bytes = Data(received[offsets[q]..<(offsets[q] + Int(lengths[q]))])
            return (try? JSONDecoder().decode(CollectiveStatement.self, from: bytes))
                ?? CollectiveStatement(operation: "?", collective: "?", values: [], failure: "an unreadable statement")
        }
    }
}
