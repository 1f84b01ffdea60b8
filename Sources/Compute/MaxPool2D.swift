import CDNNL

/// Max pooling over square windows without padding, through oneDNN (AlexNet's overlapping 3×3, stride 2).
///
///     input  (N, C, H, W), any format
///     output (N, C, OH, OW)     OH = (H − K) / stride + 1 (floor, as in Caffe's cuDNN path and PyTorch)
///
/// The forward pass keeps the arg-max positions (oneDNN's workspace) for the backward pass.
public final class MaxPool2D: Layer {
    public let name: String
    public let kernel: Int
    public let stride: Int
    /// (N, C, H, W)
    public let inputDims: [Int]
    public let outputDesc: MemoryDesc
    private let stream: ComputeStream
    private let forwardPrimitive: Primitive
    private let backwardPrimitive: Primitive?
    private let gradConverter: FormatConverter?
    private let output: Tensor
    private let workspace: Tensor
    private let gradInput: Tensor?

    public init(
        name: String, kernel: Int, stride: Int, input: MemoryDesc, stream: ComputeStream,
        computeInputGradient: Bool = true
    ) {
        let d = input.dims
        precondition(
            d.count == 4 && d[2] >= kernel && d[3] >= kernel,
            "\(name): a \(kernel)×\(kernel) window does not fit input \(d)")
        self.name = name
        self.kernel = kernel
        self.stride = stride
        self.inputDims = d
        self.stream = stream
        let outDims = [d[0], d[1], (d[2] - kernel) / stride + 1, (d[3] - kernel) / stride + 1]
        var src = input.raw
        var dst = MemoryDesc(outDims, dnnl_format_tag_any).raw
        let s: [Int64] = [Int64(stride), Int64(stride)], k: [Int64] = [Int64(kernel), Int64(kernel)]
        let zero: [Int64] = [0, 0]
        var fwd = dnnl_pooling_v2_desc_t()
        dnnlCheck(
            dnnl_pooling_v2_forward_desc_init(
                &fwd, dnnl_forward_training, dnnl_pooling_max, &src, &dst,
                s, k, zero, zero, zero), "\(name) forward")
        forwardPrimitive = Primitive(fwd, what: "\(name) forward")
        outputDesc = forwardPrimitive.desc(dnnl_query_dst_md)
        output = Tensor(outputDesc)
        workspace = Tensor(forwardPrimitive.desc(dnnl_query_workspace_md))
        if computeInputGradient {
            var diffDst = outputDesc.raw
            var bwd = dnnl_pooling_v2_desc_t()
            dnnlCheck(
                dnnl_pooling_v2_backward_desc_init(
                    &bwd, dnnl_pooling_max, &src, &diffDst, s, k, zero,
                    zero, zero), "\(name) backward")
            let primitive = Primitive(bwd, hint: forwardPrimitive, what: "\(name) backward")
            backwardPrimitive = primitive
            gradInput = Tensor(primitive.desc(dnnl_query_diff_src_md))
            gradConverter = FormatConverter(to: primitive.desc(dnnl_query_diff_dst_md))
        } else {
            backwardPrimitive = nil
            gradInput = nil
            gradConverter = nil
        }
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        forwardPrimitive.execute(stream, [(Arg.src, input), (Arg.dst, output), (Arg.workspace, workspace)])
        return output
    }

    public func backward(_ gradOutput: Tensor) -> Tensor? {
        guard let backwardPrimitive, let gradInput, let gradConverter else { return nil }
        let dy = gradConverter.convert(gradOutput, on: stream)
        backwardPrimitive.execute(stream, [(Arg.diffDst, dy), (Arg.workspace, workspace), (Arg.diffSrc, gradInput)])
        return gradInput
    }
}
