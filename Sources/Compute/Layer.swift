/// A layer of a network, built for one batch size and one input format.
///
/// Layers own their output and input-gradient buffers, which live as long as the layer and are
/// overwritten by every call; `backward` must follow the `forward` whose values it differentiates.
/// The values backward needs (inputs, workspaces, masks) are kept by the layer between the two calls.
public protocol Layer: AnyObject {
    /// `conv1`, `relu1`, `norm1`, `pool1`, ... as in the variant's table.
    var name: String { get }
    /// The format and logical dimensions of the tensor `forward` returns.
    var outputDesc: MemoryDesc { get }
    /// Floating-point operations of one forward pass over the batch (2 per multiply-add).
    var forwardFLOPs: Double { get }
    /// Floating-point operations of one backward pass over the batch.
    var backwardFLOPs: Double { get }
    /// Computes the output. The returned tensor is owned by the layer (or is `input`, for in-place
    /// layers) and stays valid until the next `forward`.
    func forward(_ input: Tensor, training: Bool) -> Tensor
    /// Given the gradient of the loss with respect to the output (any format with the output's
    /// dimensions), writes parameter gradients into the gradient arena and returns the gradient with
    /// respect to the input, or nil when the layer was built without input gradients.
    func backward(_ gradOutput: Tensor) -> Tensor?
}

extension Layer {
    public var outputDims: [Int] { outputDesc.dims }
    public var forwardFLOPs: Double { 0 }
    public var backwardFLOPs: Double { 0 }
}
