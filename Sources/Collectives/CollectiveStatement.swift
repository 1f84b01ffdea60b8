/// What one rank states before a collective: the agreement of Note [one agreement per collective].
public struct CollectiveStatement: Codable, Equatable, Sendable {
    /// The operation ("allReduce", "exchangeBytes", …).
    public var operation: String
    /// The name the caller gives (for example "compressedAllReduce(bf16, bucket0)").
    public var collective: String
    /// Sizes and roots every rank must agree on.
    public var values: [Int]
    /// Why this rank cannot take part, if it cannot.
    public var failure: String?

    public init(operation: String, collective: String, values: [Int], failure: String? = nil) {
        self.operation = operation
        self.collective = collective
        self.values = values
        self.failure = failure
    }

    /// The error rank `rank` reports for `collective` when `all` (every rank's statement, in rank order) do
    /// not agree, or nil when they do: the first rank that failed, with its reason, or the first rank whose
    /// statement differs from rank 0's, with both statements.
    public static func disagreement(_ all: [CollectiveStatement], rank: Int, collective: String) -> CollectiveError? {
        if let q = all.firstIndex(where: { $0.failure != nil }) {
            return CollectiveError(rank: rank, collective: collective, problem: "rank \(q): \(all[q].failure!)")
        }
        if let q = all.firstIndex(where: { $0 != all[0] }) {
            return CollectiveError(
                rank: rank, collective: collective,
                problem: "rank \(q) called \(all[q].summary) while rank 0 called \(all[0].summary)")
        }
        return nil
    }

    /// "allReduce (compressedAllReduce(none, bucket0)) [1000]".
    public var summary: String {
        (operation == collective ? operation : "\(operation) (\(collective))") + " \(values)"
    }

    /// What other ranks are told of a rank's error: a collective error's problem, or the error itself.
    public static func reason(_ error: Error) -> String {
        (error as? CollectiveError)?.problem ?? "\(error)"
    }
}
