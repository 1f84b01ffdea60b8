/// The rectifier (Note [reference kernels]): y = max(x, 0); dx = dy · [y > 0] (oneDNN's
/// `relu_use_dst_for_bwd`, which the layer uses, and PyTorch's `threshold_backward` at 0 agree at x = 0).
public enum ReferenceReLU {
    public static func forward(x: [Double], at index: Int) -> Double { max(x[index], 0) }

    public static func backward(y: [Double], dy: [Double], at index: Int) -> Double {
        y[index] > 0 ? dy[index] : 0
    }
}
