/// A reference layer with weights and a bias (convolution, inner product): each output element of the
/// forward pass and of the three backward computations, from plain row-major tensors.
public protocol ReferenceWeightedLayer: Sendable {
    func forward(x: [Double], w: [Double], b: [Double], at index: Int) -> Double
    func backwardData(dy: [Double], w: [Double], at index: Int) -> Double
    func backwardWeights(x: [Double], dy: [Double], at index: Int) -> Double
    func backwardBias(dy: [Double], at index: Int) -> Double
}

extension ReferenceConv2D: ReferenceWeightedLayer {}
extension ReferenceLinear: ReferenceWeightedLayer {}
