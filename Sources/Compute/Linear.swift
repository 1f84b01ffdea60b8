import CDNNL

/// Fully connected layer through oneDNN's inner product, on plain row-major data.
///
///     input  (N, I)
///     weight (O, I)     from the parameter arena, used in place (no reorder)
///     bias   (O)
///     output (N, O) = input · weightᵀ + bias
///
/// Plain formats keep the weights, their gradients and their row shards (model parallelism shards
/// output neurons, i.e. weight rows) contiguous in the arena.
public final class Linear: Layer {
    public let name: String
    public let batch: Int
    public let inFeatures: Int
    public let outFeatures: Int
    public let outputDesc: MemoryDesc
    private let stream: ComputeStream
    private let forwardPrimitive: Primitive
    private let backwardData: Primitive?
    private let backwardWeights: Primitive
    private let weights: Tensor
    private let bias: Tensor
    private let weightGradient: Tensor
    private let biasGradient: Tensor
    private let output: Tensor
    private let gradInput: Tensor?
    private var savedInput: Tensor?

    public init(
        name: String, batch: Int, weight: ParameterView, bias biasView: ParameterView,
        arena: ParameterArena, stream: ComputeStream, computeInputGradient: Bool = true
    ) {
        precondition(
            weight.shape.count == 2 && biasView.shape == [weight.shape[0]],
            "\(name): weight \(weight.shape) and bias \(biasView.shape) do not form a linear layer")
        self.name = name
        self.batch = batch
        outFeatures = weight.shape[0]
        inFeatures = weight.shape[1]
        self.stream = stream
        let srcDesc = MemoryDesc([batch, inFeatures], dnnl_nc)
        let wDesc = MemoryDesc([outFeatures, inFeatures], dnnl_oi)
        let bDesc = MemoryDesc([outFeatures], dnnl_x)
        outputDesc = MemoryDesc([batch, outFeatures], dnnl_nc)
        var src = srcDesc.raw, w = wDesc.raw, b = bDesc.raw, dst = outputDesc.raw

        var fwd = dnnl_inner_product_desc_t()
        dnnlCheck(
            dnnl_inner_product_forward_desc_init(&fwd, dnnl_forward_training, &src, &w, &b, &dst),
            "\(name) forward")
        forwardPrimitive = Primitive(fwd, what: "\(name) forward")
        if computeInputGradient {
            var bwd = dnnl_inner_product_desc_t()
            dnnlCheck(dnnl_inner_product_backward_data_desc_init(&bwd, &src, &w, &dst), "\(name) backward data")
            backwardData = Primitive(bwd, hint: forwardPrimitive, what: "\(name) backward data")
            gradInput = Tensor(srcDesc)
        } else {
            backwardData = nil
            gradInput = nil
        }
        var bww = dnnl_inner_product_desc_t()
        dnnlCheck(dnnl_inner_product_backward_weights_desc_init(&bww, &src, &w, &b, &dst), "\(name) backward weights")
        backwardWeights = Primitive(bww, hint: forwardPrimitive, what: "\(name) backward weights")

        weights = arena.valueTensor(weight, wDesc)
        bias = arena.valueTensor(biasView, bDesc)
        weightGradient = arena.gradientTensor(weight, wDesc)
        biasGradient = arena.gradientTensor(biasView, bDesc)
        output = Tensor(outputDesc)
    }

    public var forwardFLOPs: Double { 2 * Double(batch) * Double(inFeatures) * Double(outFeatures) }
    public var backwardFLOPs: Double { forwardFLOPs * (backwardData == nil ? 1 : 2) }

    public var implementations: [String] {
        [forwardPrimitive.implementation, backwardData?.implementation ?? "-", backwardWeights.implementation]
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        precondition(
            input.desc == MemoryDesc([batch, inFeatures], dnnl_nc),
            "\(name): input is \(input.dims), expected plain \([batch, inFeatures])")
        forwardPrimitive.execute(
            stream, [(Arg.src, input), (Arg.weights, weights), (Arg.bias, bias), (Arg.dst, output)])
        savedInput = training ? input : nil
        return output
    }

    public func backward(_ gradOutput: Tensor) -> Tensor? {
        precondition(
            gradOutput.desc == outputDesc,
            "\(name): output gradient is \(gradOutput.dims), expected plain \(outputDesc.dims)")
        guard let x = savedInput else { preconditionFailure("\(name): backward without a training forward") }
        backwardWeights.execute(
            stream,
            [
                (Arg.src, x), (Arg.diffDst, gradOutput),
                (Arg.diffWeights, weightGradient), (Arg.diffBias, biasGradient),
            ])
        guard let backwardData, let gradInput else { return nil }
        backwardData.execute(stream, [(Arg.diffDst, gradOutput), (Arg.weights, weights), (Arg.diffSrc, gradInput)])
        return gradInput
    }
}
