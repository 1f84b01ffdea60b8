/// A codec name that does not parse.
public struct CodecError: Error, CustomStringConvertible, Equatable {
    public let name: String
    public let problem: String

    public var description: String { "unknown codec '\(name)' (\(problem)); expected \(Codec.grammar)" }
}
