/// A collective that could not be carried out, named by rank and collective.
public struct CollectiveError: Error, CustomStringConvertible, Equatable {
    public let rank: Int
    public let collective: String
    public let problem: String

    public init(rank: Int, collective: String, problem: String) {
        self.rank = rank
        self.collective = collective
        self.problem = problem
    }

    public var description: String { "rank \(rank), \(collective): \(problem)" }
}
