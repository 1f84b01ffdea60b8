/// The edge between the convolutional and the fully connected stages: reorders the last conv-stage
/// activations from oneDNN's chosen format to plain NCHW and views them as rows.
///
///     input  (N, C, H, W), any format
///     output (N, C·H·W), plain; feature index c·H·W + h·W + w (PyTorch's `flatten`)
public final class Flatten: Layer {
    public let name: String
    public let outputDesc: MemoryDesc
    private let stream: ComputeStream
    private let toPlain: FormatConverter
    private let inputDims: [Int]

    public init(name: String = "flatten", input: MemoryDesc, stream: ComputeStream) {
        self.name = name
        self.stream = stream
        inputDims = input.dims
        toPlain = FormatConverter(to: MemoryDesc.plain(input.dims))
        outputDesc = MemoryDesc.plain([inputDims[0], inputDims.dropFirst().reduce(1, *)])
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        toPlain.convert(input, on: stream).reinterpreted(as: outputDesc.dims)
    }

    /// Returns the gradient as plain (N, C, H, W); the layer below converts it to its format.
    public func backward(_ gradOutput: Tensor) -> Tensor? {
        precondition(
            gradOutput.desc == outputDesc, "\(name): gradient is \(gradOutput.dims), expected plain \(outputDesc.dims)")
        return gradOutput.reinterpreted(as: inputDims)
    }
}
