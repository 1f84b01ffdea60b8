/// A run that cannot start or go on: bad configuration, data that does not fit, a diverged loss.
public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
