import Collectives
import Compute
import Foundation
import MPIBackend

/// A launch that cannot go ahead (one line, for the user).
public struct LaunchError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
