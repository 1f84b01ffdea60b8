import ReferenceKernels

@testable import Compute

/// One layer of a traced step against the reference kernels (Note [reference kernels]), each computation
/// fed exactly what the oneDNN primitive was fed, so that errors do not compound and the bounds can be
/// tight. Sums of products are checked at `samples` elements of each tensor (a test cannot compute paper's
/// whole conv1 gradient at batch 128 naively), element-wise layers at 200,000.
///
/// The bounds, on `Discrepancy.relative` (largest difference over largest reference magnitude, per tensor):
/// - 1e-5 for sums of products (convolution and inner product, forward and both backward passes): float32
///   sums of up to 10⁵ terms in any order stay below ~3e-6 here; the bound.
/// - 1e-5 for LRN: float32 `powf` and a 5-term sum.
/// - 0 for ReLU forward and backward, and for max pooling forward (selections, no arithmetic), and for the
///   flatten edge (a reorder).
/// - 1e-6 for max pooling backward (float32 sums of at most 4 overlapping windows' gradients) and dropout
///   (one float32 multiply).
struct LayerReferenceCheck {
    /// One tensor's comparison: `conv2 backward weights`, its discrepancy and bound.
    struct Result: CustomStringConvertible {
        let primitive: String
        let discrepancy: Discrepancy
        let bound: Double
        var passed: Bool { discrepancy.relative <= bound }
        var description: String { "\(primitive): \(discrepancy) (bound \(bound))" }
    }

    static let sumBound = 1e-5
    static let lrnBound = 1e-5
    static let roundingBound = 1e-6
    /// Element-wise layers (ReLU, pooling, dropout, flatten) are checked at this many elements, all of
    /// them in tensors up to this size.
    static let elementwiseSamples = 200_000

    let trace: NetworkTrace
    let arena: ParameterArena
    let samples: Int
    /// Each dropout layer's multipliers (`NetworkTrace.dropoutMasks`).
    let dropoutMasks: [String: [Double]]

    /// Every primitive of layer `i`, forward and backward.
    func results(layer i: Int) -> [Result] {
        let record = trace.records[i]
        let name = record.layer.name
        let x = doubles(record.input), dy = doubles(record.gradOutput)
        let y = trace.output(of: i), dx = trace.gradInput(of: i)
        var results: [Result] = []
        /// Sums are checked at `samples` elements, element-wise layers at `elementwiseSamples`.
        func check(
            _ what: String, _ actual: [Float], bound: Double, sums: Bool = false, seed: UInt64 = 1,
            _ reference: @escaping @Sendable (Int) -> Double
        ) {
            let indices = sampledIndices(actual.count, count: sums ? samples : Self.elementwiseSamples, seed: seed)
            results.append(
                Result(
                    primitive: "\(name) \(what)",
                    discrepancy: Discrepancy(actual: actual, indices: indices, reference: reference),
                    bound: bound))
        }
        /// A layer with weights and a bias: its forward pass and its three gradients.
        func checkWeighted(_ ref: some ReferenceWeightedLayer) {
            let w = parameter("\(name).weight"), b = parameter("\(name).bias")
            check("forward", y, bound: Self.sumBound, sums: true) { ref.forward(x: x, w: w, b: b, at: $0) }
            if let dx {
                check("backward data", dx, bound: Self.sumBound, sums: true, seed: 2) {
                    ref.backwardData(dy: dy, w: w, at: $0)
                }
            }
            check("backward weights", gradient("\(name).weight"), bound: Self.sumBound, sums: true, seed: 3) {
                ref.backwardWeights(x: x, dy: dy, at: $0)
            }
            check("backward bias", gradient("\(name).bias"), bound: Self.sumBound) { ref.backwardBias(dy: dy, at: $0) }
        }
        switch record.layer {
        case let conv as Conv2D:
            checkWeighted(ReferenceConv2D(conv.geometry))
        case let linear as Linear:
            checkWeighted(
                ReferenceLinear(batch: linear.batch, inFeatures: linear.inFeatures, outFeatures: linear.outFeatures))
        case is ReLU:
            let yValues = doubles(y)
            check("forward", y, bound: 0) { ReferenceReLU.forward(x: x, at: $0) }
            check("backward", dx!, bound: 0) { ReferenceReLU.backward(y: yValues, dy: dy, at: $0) }
        case let lrn as LocalResponseNorm:
            let ref = ReferenceLocalResponseNorm(dims: lrn.outputDims, parameters: lrn.parameters)
            check("forward", y, bound: Self.lrnBound, sums: true) { ref.forward(a: x, at: $0) }
            check("backward", dx!, bound: Self.lrnBound, sums: true, seed: 2) { ref.backward(a: x, db: dy, at: $0) }
        case let pool as MaxPool2D:
            let ref = ReferenceMaxPool2D(inputDims: pool.inputDims, kernel: pool.kernel, stride: pool.stride)
            let winners = ref.winners(of: x)
            check("forward", y, bound: 0) { ref.forward(x: x, at: $0) }
            if let dx {
                check("backward", dx, bound: Self.roundingBound) { ref.backward(winners: winners, dy: dy, at: $0) }
            }
        case is Dropout:
            let mask = dropoutMasks[name]!
            check("forward", y, bound: Self.roundingBound) { x[$0] * mask[$0] }
            check("backward", dx!, bound: Self.roundingBound) { dy[$0] * mask[$0] }
        case is Flatten:
            check("forward", y, bound: 0) { x[$0] }
            check("backward", dx!, bound: 0) { dy[$0] }
        default:
            preconditionFailure("no reference for layer \(name)")
        }
        return results
    }

    private func parameter(_ name: String) -> [Double] { doubles(Array(arena.values(of: arena.view(name)))) }
    private func gradient(_ name: String) -> [Float] { trace.parameterGradients[name]! }
}
