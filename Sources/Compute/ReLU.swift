import CDNNL

/// Rectified linear unit, in place, through oneDNN: `y = max(x, 0)`; the backward pass uses the output
/// (`dy · [y > 0]`), so the input can be overwritten.
///
///     input, output (any shape, any format; output is the input tensor itself)
public final class ReLU: Layer {
    public let name: String
    public let outputDesc: MemoryDesc
    private let stream: ComputeStream
    private let forwardPrimitive: Primitive
    private let backwardPrimitive: Primitive
    private let gradConverter: FormatConverter
    private var savedOutput: Tensor?

    public init(name: String, input: MemoryDesc, stream: ComputeStream) {
        self.name = name
        self.stream = stream
        outputDesc = input
        var data = input.raw
        var fwd = dnnl_eltwise_desc_t()
        dnnlCheck(
            dnnl_eltwise_forward_desc_init(
                &fwd, dnnl_forward_training, dnnl_eltwise_relu_use_dst_for_bwd,
                &data, 0, 0), "\(name) forward")
        forwardPrimitive = Primitive(fwd, what: "\(name) forward")
        var bwd = dnnl_eltwise_desc_t()
        dnnlCheck(
            dnnl_eltwise_backward_desc_init(&bwd, dnnl_eltwise_relu_use_dst_for_bwd, &data, &data, 0, 0),
            "\(name) backward")
        backwardPrimitive = Primitive(bwd, hint: forwardPrimitive, what: "\(name) backward")
        gradConverter = FormatConverter(to: input)
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        precondition(input.desc == outputDesc, "\(name): input is \(input.dims) in another format than built for")
        forwardPrimitive.execute(stream, [(Arg.src, input), (Arg.dst, input)])
        savedOutput = training ? input : nil
        return input
    }

    public func backward(_ gradOutput: Tensor) -> Tensor? {
        guard let y = savedOutput else { preconditionFailure("\(name): backward without a training forward") }
        let dy = gradConverter.convert(gradOutput, on: stream)
        backwardPrimitive.execute(stream, [(Arg.dst, y), (Arg.diffDst, dy), (Arg.diffSrc, dy)])
        return dy
    }
}
