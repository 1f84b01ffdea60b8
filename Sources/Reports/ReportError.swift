/// A problem with a results folder, a sweep or a report, in words for the user.
public struct ReportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
