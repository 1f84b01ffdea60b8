/// The exit statuses of `alexnet-dist`, documented in the README ("When things go wrong").
public enum ExitStatus {
    /// An error: bad input, an I/O failure, a rank that failed or vanished.
    public static let failure: Int32 = 1
    /// Training stopped at the first non-finite loss, gradient or weight (no model written).
    public static let diverged: Int32 = 3
    /// The replicated layers of the ranks differ (no model written).
    public static let replicasDiffer: Int32 = 4
    /// Stopped on a signal after writing a checkpoint: run the same command with `--resume auto` to continue
    /// (EX_TEMPFAIL: "try again later").
    public static let stopped: Int32 = 75
    /// A rank waited longer than `--collective-timeout` in a collective.
    public static let collectiveTimeout: Int32 = 124
    /// A second SIGINT: exited at once, without a checkpoint (128 + SIGINT).
    public static let interrupted: Int32 = 130
}

/// An error that ends the whole run with its own exit status.
///
/// `sharedByEveryRank`: every rank raises it at the same point, from values they agreed on in a collective
/// (a divergence seen in the step's figures, replicas found different, nothing to do).
///
/// ## Note [every rank's errors]
///
/// An error on any rank ends every rank within seconds, printed once, naming the rank. A shared error
/// (above) is reported by rank 0 alone and every rank leaves normally with its status. Any other error is
/// one rank's: under MPI that rank prints `alexnet-dist: error: rank R: …` and calls `MPI_Abort`, which
/// ends the other processes even while they wait in a collective or are stopped; rank 0 does so at once and
/// the others after a second, so that when every rank fails alike only rank 0's line appears. Errors raised
/// before the ranks connect (flags, input files) follow the same rule through the launcher. In one process
/// (`--simulate`) a rank that fails leaves its group, so the others' collectives fail instead of waiting,
/// and the run reports rank 0's error, else the first to fail.
public protocol RunEndingError: Error, CustomStringConvertible {
    var exitStatus: Int32 { get }
    var sharedByEveryRank: Bool { get }
}

/// An error raised on one rank of several, named by its rank.
public struct RankError: RunEndingError {
    public let rank: Int
    public let underlying: Error
    public init(rank: Int, _ underlying: Error) {
        self.rank = rank
        self.underlying = underlying
    }
    public var exitStatus: Int32 { (underlying as? RunEndingError)?.exitStatus ?? ExitStatus.failure }
    public var sharedByEveryRank: Bool { false }
    public var description: String {
        // A collective's error already names its rank.
        if let error = underlying as? CollectiveError, error.rank == rank { return "\(error)" }
        return "rank \(rank): \(underlying)"
    }
}
