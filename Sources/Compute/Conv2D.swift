import CDNNL

/// The geometry of a 2-D convolution.
public struct Conv2DGeometry: Sendable, Equatable {
    public var batch: Int
    public var inChannels: Int
    public var height: Int
    public var width: Int
    public var outChannels: Int
    public var kernel: Int
    public var stride: Int
    public var padding: Int
    public var groups: Int

    public init(
        batch: Int, inChannels: Int, height: Int, width: Int, outChannels: Int, kernel: Int,
        stride: Int = 1, padding: Int = 0, groups: Int = 1
    ) {
        self.batch = batch; self.inChannels = inChannels; self.height = height; self.width = width
        self.outChannels = outChannels; self.kernel = kernel; self.stride = stride
        self.padding = padding; self.groups = groups
    }

    public var outHeight: Int { (height + 2 * padding - kernel) / stride + 1 }
    public var outWidth: Int { (width + 2 * padding - kernel) / stride + 1 }
    /// (O, I/groups, KH, KW), PyTorch's layout.
    public var weightShape: [Int] { [outChannels, inChannels / groups, kernel, kernel] }
    /// Multiply-adds of one forward pass.
    public var multiplyAdds: Double {
        Double(batch * outChannels * outHeight * outWidth) * Double(inChannels / groups * kernel * kernel)
    }
}

/// 2-D convolution (stride, symmetric zero padding, groups) through oneDNN.
///
///     input  (N, C, H, W)
///     weight (O, C/groups, K, K)          from the parameter arena, PyTorch layout
///     bias   (O)
///     output (N, O, OH, OW)               OH = (H + 2·pad − K) / stride + 1
///
/// oneDNN chooses the activation and weight formats (`format_tag any`): the arena's weights are
/// reordered to the primitive's format before each forward pass and weight gradients are reordered back.
public final class Conv2D: Layer {
    public let name: String
    public let geometry: Conv2DGeometry
    public let outputDesc: MemoryDesc
    private let stream: ComputeStream

    private let forwardPrimitive: Primitive
    private let backwardData: Primitive?
    private let backwardWeights: Primitive

    private let inputForForward: FormatConverter
    private let inputForBackwardWeights: FormatConverter
    private let gradForBackwardData: FormatConverter?
    private let gradForBackwardWeights: FormatConverter

    /// Arena weights in PyTorch layout, and their copies in the primitives' formats.
    private let weights: Tensor
    private let weightsForForward: FormatConverter
    private let weightsForBackwardData: FormatConverter?
    /// The weights in the forward primitive's format, as of the last forward pass.
    private var forwardWeights: Tensor?
    private let bias: Tensor
    private let weightGradient: Tensor
    private let weightGradientInPrimitiveFormat: Tensor
    private let weightGradientReorder: Primitive?
    private let biasGradient: Tensor

    private let output: Tensor
    /// The forward primitive's own output when it is plain NCHW and `output` is blocked (see `init`).
    private let primitiveOutput: Tensor?
    private let outputReorder: Primitive?
    private let gradInput: Tensor?
    private var savedInput: Tensor?

    /// - Parameters:
    ///   - computeInputGradient: false for the first layer, whose input gradient nobody needs.
    public init(
        name: String, geometry g: Conv2DGeometry, weight: ParameterView, bias biasView: ParameterView,
        arena: ParameterArena, stream: ComputeStream, computeInputGradient: Bool = true
    ) {
        precondition(
            g.inChannels % g.groups == 0 && g.outChannels % g.groups == 0,
            "\(name): \(g.groups) groups do not divide \(g.inChannels) input and \(g.outChannels) output channels")
        precondition(
            weight.shape == g.weightShape,
            "\(name): weight shape \(weight.shape) does not match the layer's \(g.weightShape)")
        precondition(
            biasView.shape == [g.outChannels],
            "\(name): bias shape \(biasView.shape) does not match [\(g.outChannels)]")
        precondition(
            g.outHeight > 0 && g.outWidth > 0,
            "\(name): a \(g.kernel)×\(g.kernel) kernel does not fit a \(g.height)×\(g.width) input padded by \(g.padding)"
        )
        self.name = name
        self.geometry = g
        self.stream = stream

        let srcDims = [g.batch, g.inChannels, g.height, g.width]
        let dstDims = [g.batch, g.outChannels, g.outHeight, g.outWidth]
        let (weightDims, weightTag): ([Int], dnnl_format_tag_t) =
            g.groups == 1
            ? (g.weightShape, dnnl_oihw)
            : ([g.groups, g.outChannels / g.groups, g.inChannels / g.groups, g.kernel, g.kernel], dnnl_goihw)
        let any = dnnl_format_tag_any
        var src = MemoryDesc(srcDims, any).raw, dst = MemoryDesc(dstDims, any).raw
        var wts = MemoryDesc(weightDims, any).raw, b = MemoryDesc([g.outChannels], dnnl_x).raw
        let strides: [Int64] = [Int64(g.stride), Int64(g.stride)]
        let pad: [Int64] = [Int64(g.padding), Int64(g.padding)]

        var fwd = dnnl_convolution_desc_t()
        dnnlCheck(
            dnnl_convolution_forward_desc_init(
                &fwd, dnnl_forward_training, dnnl_convolution_direct,
                &src, &wts, &b, &dst, strides, pad, pad), "\(name) forward")
        forwardPrimitive = Primitive(fwd, what: "\(name) forward")
        if computeInputGradient {
            var bwd = dnnl_convolution_desc_t()
            dnnlCheck(
                dnnl_convolution_backward_data_desc_init(
                    &bwd, dnnl_convolution_direct, &src, &wts, &dst,
                    strides, pad, pad), "\(name) backward data")
            backwardData = Primitive(bwd, hint: forwardPrimitive, what: "\(name) backward data")
        } else {
            backwardData = nil
        }
        var bww = dnnl_convolution_desc_t()
        dnnlCheck(
            dnnl_convolution_backward_weights_desc_init(
                &bww, dnnl_convolution_direct, &src, &wts, &b, &dst,
                strides, pad, pad), "\(name) backward weights")
        backwardWeights = Primitive(bww, hint: forwardPrimitive, what: "\(name) backward weights")

        // oneDNN 2.6 runs conv1 (3 input channels) as gemm writing plain NCHW; the LRN and pooling after it
        // then fall to reference kernels on that layout (owt: norm1 backward 560 ms against norm2's 8, 23% of
        // a step). A reorder to the blocked layout the jit kernels use costs a few milliseconds.
        let produced = forwardPrimitive.desc(dnnl_query_dst_md)
        if produced == MemoryDesc(dstDims, dnnl_nchw) && g.outChannels % 8 == 0 {
            let tag = ComputeEngine.usesAVX512 && g.outChannels % 16 == 0 ? dnnl_nChw16c : dnnl_nChw8c
            outputDesc = MemoryDesc(dstDims, tag)
            primitiveOutput = Tensor(produced)
            outputReorder = Primitive(reorderFrom: produced, to: outputDesc)
        } else {
            outputDesc = produced
            primitiveOutput = nil
            outputReorder = nil
        }
        output = Tensor(outputDesc)
        gradInput = backwardData.map { Tensor($0.desc(dnnl_query_diff_src_md)) }
        inputForForward = FormatConverter(to: forwardPrimitive.desc(dnnl_query_src_md))
        inputForBackwardWeights = FormatConverter(to: backwardWeights.desc(dnnl_query_src_md))
        gradForBackwardData = backwardData.map { FormatConverter(to: $0.desc(dnnl_query_diff_dst_md)) }
        gradForBackwardWeights = FormatConverter(to: backwardWeights.desc(dnnl_query_diff_dst_md))

        let canonical = MemoryDesc(weightDims, weightTag)
        weights = arena.valueTensor(weight, canonical)
        weightsForForward = FormatConverter(to: forwardPrimitive.desc(dnnl_query_weights_md))
        weightsForBackwardData = backwardData.map { FormatConverter(to: $0.desc(dnnl_query_weights_md)) }
        bias = arena.valueTensor(biasView, MemoryDesc([g.outChannels], dnnl_x))
        weightGradient = arena.gradientTensor(weight, canonical)
        let gradDesc = backwardWeights.desc(dnnl_query_diff_weights_md)
        if gradDesc == canonical {
            weightGradientInPrimitiveFormat = weightGradient
            weightGradientReorder = nil
        } else {
            weightGradientInPrimitiveFormat = Tensor(gradDesc)
            weightGradientReorder = Primitive(reorderFrom: gradDesc, to: canonical)
        }
        let biasGradDesc = backwardWeights.desc(dnnl_query_diff_weights_md, 1)
        precondition(biasGradDesc == MemoryDesc([g.outChannels], dnnl_x), "\(name): unexpected bias gradient format")
        biasGradient = arena.gradientTensor(biasView, biasGradDesc)
    }

    public var forwardFLOPs: Double { 2 * geometry.multiplyAdds }
    public var backwardFLOPs: Double { 2 * geometry.multiplyAdds * (backwardData == nil ? 1 : 2) }

    /// The implementations oneDNN picked (forward, backward data, backward weights).
    public var implementations: [String] {
        [forwardPrimitive.implementation, backwardData?.implementation ?? "-", backwardWeights.implementation]
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        let g = geometry
        precondition(
            input.dims == [g.batch, g.inChannels, g.height, g.width],
            "\(name): input is \(input.dims), expected \([g.batch, g.inChannels, g.height, g.width])")
        let x = inputForForward.convert(input, on: stream)
        let w = weightsForForward.convert(weights, on: stream)
        forwardWeights = w
        forwardPrimitive.execute(
            stream, [(Arg.src, x), (Arg.weights, w), (Arg.bias, bias), (Arg.dst, primitiveOutput ?? output)])
        if let outputReorder, let primitiveOutput {
            outputReorder.execute(stream, [(Arg.from, primitiveOutput), (Arg.to, output)])
        }
        savedInput = training ? input : nil
        return output
    }

    public func backward(_ gradOutput: Tensor) -> Tensor? {
        precondition(
            gradOutput.dims == outputDesc.dims,
            "\(name): output gradient is \(gradOutput.dims), expected \(outputDesc.dims)")
        guard let input = savedInput else { preconditionFailure("\(name): backward without a training forward") }
        let dy = gradForBackwardWeights.convert(gradOutput, on: stream)
        let x = inputForBackwardWeights.convert(input, on: stream)
        backwardWeights.execute(
            stream,
            [
                (Arg.src, x), (Arg.diffDst, dy),
                (Arg.diffWeights, weightGradientInPrimitiveFormat),
                (Arg.diffBias, biasGradient),
            ])
        weightGradientReorder?.execute(stream, [(Arg.from, weightGradientInPrimitiveFormat), (Arg.to, weightGradient)])
        guard let backwardData, let gradInput else { return nil }
        // Backward data usually wants the forward format: reuse that copy instead of reordering again.
        let w =
            weightsForBackwardData!.target == weightsForForward.target
            ? forwardWeights! : weightsForBackwardData!.convert(weights, on: stream)
        let dyData = gradForBackwardData!.convert(gradOutput, on: stream)
        backwardData.execute(stream, [(Arg.diffDst, dyData), (Arg.weights, w), (Arg.diffSrc, gradInput)])
        return gradInput
    }
}
