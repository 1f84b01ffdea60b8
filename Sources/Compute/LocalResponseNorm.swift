import CDNNL

/// Parameters of local response normalisation across channels.
public struct LRNParameters: Sendable, Equatable {
    /// Number of channels in the window centred on each channel (n).
    public var size: Int
    public var alpha: Float
    public var beta: Float
    public var k: Float

    /// AlexNet's values: n = 5, α = 1e-4, β = 0.75, k = 2.
    public static let alexNet = LRNParameters(size: 5, alpha: 1e-4, beta: 0.75, k: 2)

    public init(size: Int, alpha: Float, beta: Float, k: Float) {
        self.size = size; self.alpha = alpha; self.beta = beta; self.k = k
    }
}

/// Local response normalisation across channels, through oneDNN:
///
///     b[c] = a[c] / (k + (α / n) · Σ_{j ∈ window(c)} a[j]²)^β
///
/// where the window holds the n channels centred on c, clipped at the edges. **α is divided by n**, as in
/// Caffe, cuda-convnet2, PyTorch's `LocalResponseNorm` and oneDNN; the 2012 paper's formula writes α
/// without the division, so its α = 1e-4 corresponds to 5e-4 here. AlexNet's configured α (1e-4) is
/// used as Caffe uses it.
///
///     input, output (N, C, H, W), any format (the input's)
public final class LocalResponseNorm: Layer {
    public let name: String
    public let parameters: LRNParameters
    public let outputDesc: MemoryDesc
    private let stream: ComputeStream
    private let forwardPrimitive: Primitive
    private let backwardPrimitive: Primitive
    private let gradConverter: FormatConverter
    private let output: Tensor
    private let workspace: Tensor
    private let gradInput: Tensor
    private var savedInput: Tensor?

    public init(name: String, parameters p: LRNParameters, input: MemoryDesc, stream: ComputeStream) {
        precondition(p.size >= 1 && p.size % 2 == 1, "\(name): the LRN window must be odd, got \(p.size)")
        self.name = name
        self.parameters = p
        self.stream = stream
        var data = input.raw
        var fwd = dnnl_lrn_desc_t()
        dnnlCheck(
            dnnl_lrn_forward_desc_init(
                &fwd, dnnl_forward_training, dnnl_lrn_across_channels, &data,
                Int64(p.size), p.alpha, p.beta, p.k), "\(name) forward")
        forwardPrimitive = Primitive(fwd, what: "\(name) forward")
        var bwd = dnnl_lrn_desc_t()
        dnnlCheck(
            dnnl_lrn_backward_desc_init(
                &bwd, dnnl_lrn_across_channels, &data, &data,
                Int64(p.size), p.alpha, p.beta, p.k), "\(name) backward")
        backwardPrimitive = Primitive(bwd, hint: forwardPrimitive, what: "\(name) backward")
        outputDesc = forwardPrimitive.desc(dnnl_query_dst_md)
        output = Tensor(outputDesc)
        workspace = Tensor(forwardPrimitive.desc(dnnl_query_workspace_md))
        gradInput = Tensor(backwardPrimitive.desc(dnnl_query_diff_src_md))
        gradConverter = FormatConverter(to: backwardPrimitive.desc(dnnl_query_diff_dst_md))
    }

    /// Channels × (2n + 4) operations per element, roughly: the window sum, the power and the division.
    public var forwardFLOPs: Double { Double(outputDesc.dims.reduce(1, *)) * Double(parameters.size + 4) }
    public var backwardFLOPs: Double { 2 * forwardFLOPs }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        precondition(input.dims == outputDesc.dims, "\(name): input is \(input.dims), expected \(outputDesc.dims)")
        forwardPrimitive.execute(stream, [(Arg.src, input), (Arg.dst, output), (Arg.workspace, workspace)])
        savedInput = training ? input : nil
        return output
    }

    public func backward(_ gradOutput: Tensor) -> Tensor? {
        guard let x = savedInput else { preconditionFailure("\(name): backward without a training forward") }
        let dy = gradConverter.convert(gradOutput, on: stream)
        backwardPrimitive.execute(
            stream,
            [
                (Arg.src, x), (Arg.diffDst, dy), (Arg.workspace, workspace),
                (Arg.diffSrc, gradInput),
            ])
        return gradInput
    }
}
