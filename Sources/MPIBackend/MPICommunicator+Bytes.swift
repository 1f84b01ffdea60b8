import CMPI
import Collectives
import Foundation

/// The byte collectives (compressed frames, control messages): sizes travel in the agreement (Note [one
/// agreement per collective]), the bytes in one `MPI_Alltoallv` or `MPI_Allgatherv`.
extension MPICommunicator {
    public func exchangeBytes(_ messages: [[UInt8]], collective: String) throws -> [[UInt8]] {
        let failure = deferredError { try arguments.exchangeBytes(messages: messages.count, collective) }
        try agree("exchangeBytes", collective, [], failure: failure)
        // sizes[r][q]: what rank r sends to rank q. Every rank sees the whole matrix, so the limit checks
        // below fail on every rank alike.
        let sizes = try share(collective, messages.map(\.count))
        let sendCounts = sizes[rank], receiveCounts = sizes.map { $0[rank] }
        let limit = Int(Int32.max)
        if let r = (0..<size).first(where: { q in
            sizes[q].reduce(0, +) > limit || sizes.map { $0[q] }.reduce(0, +) > limit
        }) {
            throw CollectiveError(
                rank: rank, collective: collective, problem: "rank \(r) sends or receives more than 2³¹−1 bytes")
        }
        let send = messages.flatMap { $0 }
        var received = [UInt8](repeating: 0, count: max(receiveCounts.reduce(0, +), 1))
        try send.withUnsafeBytes { s in
            try received.withUnsafeMutableBytes { r in
                try call(
                    collective,
                    MPI_Alltoallv(
                        s.baseAddress, sendCounts.map { Int32($0) }, prefixSums(sendCounts).map { Int32($0) },
                        cmpi_byte(), r.baseAddress, receiveCounts.map { Int32($0) },
                        prefixSums(receiveCounts).map { Int32($0) }, cmpi_byte(), comm))
            }
        }
        return zip(prefixSums(receiveCounts), receiveCounts).map { Array(received[$0..<($0 + $1)]) }
    }

    public func allGatherBytes(_ message: [UInt8], collective: String) throws -> [[UInt8]] {
        let counts = try agree("allGatherBytes", collective, [], sharing: message.count)
        guard counts.reduce(0, +) <= Int(Int32.max) else {
            throw CollectiveError(
                rank: rank, collective: collective, problem: "the messages total more than 2³¹−1 bytes")
        }
        var received = [UInt8](repeating: 0, count: max(counts.reduce(0, +), 1))
        try message.withUnsafeBytes { m in
            try received.withUnsafeMutableBytes { r in
                try call(
                    collective,
                    MPI_Allgatherv(
                        m.baseAddress, Int32(message.count), cmpi_byte(), r.baseAddress, counts.map { Int32($0) },
                        prefixSums(counts).map { Int32($0) }, cmpi_byte(), comm))
            }
        }
        return zip(prefixSums(counts), counts).map { Array(received[$0..<($0 + $1)]) }
    }

    /// Every rank's `values` (the same number on every rank, which the agreement has checked), in rank order.
    private func share(_ collective: String, _ values: [Int]) throws -> [[Int]] {
        var mine = values.map { Int64($0) }
        var all = [Int64](repeating: 0, count: max(values.count * size, 1))
        try call(
            collective,
            MPI_Allgather(&mine, Int32(values.count), cmpi_int64(), &all, Int32(values.count), cmpi_int64(), comm))
        return (0..<size).map { r in all[(r * values.count)..<((r + 1) * values.count)].map { Int($0) } }
    }
}
