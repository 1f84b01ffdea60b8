import Collectives

/// How a run ends early on figures every rank saw alike (so every rank raises it at the same point, and
/// rank 0 alone reports it: Note [every rank's errors]).
public struct RunEnded: RunEndingError {
    public let description: String
    public let exitStatus: Int32
    public var sharedByEveryRank: Bool { true }

    /// Note [the non-finite guard]: the loss, a gradient or a weight is NaN or infinite.
    static func diverged(_ text: String) -> RunEnded { RunEnded(description: text, exitStatus: ExitStatus.diverged) }

    /// The replicas of the replicated layers differ (Note [replica check]).
    static func replicasDiffer(_ text: String) -> RunEnded {
        RunEnded(description: text, exitStatus: ExitStatus.replicasDiffer)
    }

    /// A resumed run with no step left (`--max-steps` counts from the start of the run): not a failure.
    static func nothingToDo(_ text: String) -> RunEnded {
        RunEnded(description: "nothing to do: \(text)", exitStatus: 0)
    }
}
