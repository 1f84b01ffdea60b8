import Foundation

/// A tensor of the reference implementations: plain row-major `Double`s (NCHW for activations, PyTorch's
/// (O, I/groups, K, K) for convolution weights).
///
/// Note [reference kernels]: every kernel here is the textbook formula written as naive loops over plain
/// row-major arrays, accumulating in `Double`, with no blocking, reordering or vector tricks, so that it is
/// obviously right by reading. Each computes one output element at a time (`element(at:)`), which lets a
/// test check a sample of the elements of a tensor too large to compute whole in a test, and the whole
/// tensor (`tensor`) from the same code. The targets is built with optimisation (Package.swift) because
/// the whole-step references run billions of multiply-adds.
public struct ReferenceTensor: Sendable {
    public var dims: [Int]
    public var values: [Double]

    public init(dims: [Int], values: [Double]) {
        precondition(values.count == dims.reduce(1, *), "reference: \(values.count) values for a \(dims) tensor")
        self.dims = dims
        self.values = values
    }

    public init(dims: [Int], floats: [Float]) {
        self.init(dims: dims, values: doubles(floats))
    }

    public init(zeros dims: [Int]) {
        self.init(dims: dims, values: Array(repeating: 0, count: dims.reduce(1, *)))
    }

    public var count: Int { values.count }

    /// The same values viewed under other dimensions with the same element count.
    public func reshaped(_ dims: [Int]) -> ReferenceTensor { ReferenceTensor(dims: dims, values: values) }

    /// A tensor of `dims` whose element i is `element(i)`, computed on every core.
    public static func computed(_ dims: [Int], _ element: @Sendable (Int) -> Double) -> ReferenceTensor {
        ReferenceTensor(dims: dims, values: concurrentMap(dims.reduce(1, *), element))
    }
}

/// `floats` widened to `Double` (exactly), on every core.
public func doubles(_ floats: [Float]) -> [Double] { concurrentMap(floats.count) { Double(floats[$0]) } }

/// `(0..<count).map(body)`, computed on every core in contiguous chunks.
public func concurrentMap<T>(_ count: Int, _ body: @Sendable (Int) -> T) -> [T] {
    guard count > 0 else { return [] }
    let chunks = min(count, 64 * ProcessInfo.processInfo.activeProcessorCount)
    return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
        let base = UncheckedSendable(buffer.baseAddress!)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            for i in (count * chunk / chunks)..<(count * (chunk + 1) / chunks) {
                (base.value + i).initialize(to: body(i))
            }
        }
        initialized = count
    }
}

/// A value handed to concurrent workers that write disjoint parts of it.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Row-major index arithmetic for 4-D tensors.
@inline(__always)
func index4(_ a: Int, _ b: Int, _ c: Int, _ d: Int, _ dims: (Int, Int, Int, Int)) -> Int {
    ((a * dims.1 + b) * dims.2 + c) * dims.3 + d
}

/// The coordinates of row-major index `i` in a 4-D tensor.
@inline(__always)
func coordinates4(_ i: Int, _ dims: (Int, Int, Int, Int)) -> (Int, Int, Int, Int) {
    let d = i % dims.3, c = (i / dims.3) % dims.2, b = (i / (dims.3 * dims.2)) % dims.1
    return (i / (dims.3 * dims.2 * dims.1), b, c, d)
}

/// ⌊a / b⌋ for b > 0.
@inline(__always)
func floorDivide(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }

/// ⌈a / b⌉ for b > 0.
@inline(__always)
func ceilDivide(_ a: Int, _ b: Int) -> Int { -floorDivide(-a, b) }
