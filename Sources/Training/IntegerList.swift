import Foundation

/// A comma-separated list of integers as the command line gives it (`--milestones 15,22`, thread counts,
/// sizes): every item an integer, spaces around items allowed, an empty item ("3,,4") an error.
public struct IntegerList: Sendable, Equatable {
    public var values: [Int]

    public init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false).map {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        values = parts.map { $0! }
    }

    public var defaultValueDescription: String { values.map(String.init).joined(separator: ",") }
}
