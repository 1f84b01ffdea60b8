import CDNNL

/// A block of `Float`s described by a oneDNN memory descriptor, owned or borrowed.
///
/// Layers keep their outputs in whatever format their primitive chose (often a blocked one such as
/// `nChw16c`); only plain-format tensors may be read element by element through `floats`.
public final class Tensor {
    public let desc: MemoryDesc
    let memory: dnnl_memory_t
    /// The start of the data (64-byte aligned when owned).
    public let data: UnsafeMutableRawPointer
    private let owned: Bool
    /// Keeps the owner of borrowed memory (an arena, or the tensor a view reinterprets) alive.
    private var owner: AnyObject?

    /// Allocates a zero-filled tensor in the given format.
    public init(_ desc: MemoryDesc, engine: ComputeEngine = .shared) {
        let bytes = max(desc.byteCount, 4)
        data = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        data.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        owned = true
        self.desc = desc
        memory = Tensor.makeMemory(desc, data, engine)
    }

    /// Wraps memory the tensor does not own (a view into a parameter arena, for example).
    /// - Parameter owner: the object that owns `pointer`; the tensor keeps it alive. `pointer` must be
    ///   large enough for `desc`.
    public init(
        _ desc: MemoryDesc, borrowing pointer: UnsafeMutableRawPointer, owner: AnyObject?,
        engine: ComputeEngine = .shared
    ) {
        data = pointer
        owned = false
        self.owner = owner
        self.desc = desc
        memory = Tensor.makeMemory(desc, pointer, engine)
    }

    /// A plain row-major `f32` tensor of the given dimensions.
    public convenience init(plain dims: [Int]) { self.init(MemoryDesc.plain(dims)) }

    private static func makeMemory(
        _ desc: MemoryDesc, _ pointer: UnsafeMutableRawPointer,
        _ engine: ComputeEngine
    ) -> dnnl_memory_t {
        var md = desc.raw
        var memory: dnnl_memory_t?
        dnnlCheck(dnnl_memory_create(&memory, &md, engine.handle, pointer), "wrapping \(desc.dims) memory")
        return memory!
    }

    public var dims: [Int] { desc.dims }

    /// Number of logical elements (the product of the dimensions).
    public var elementCount: Int { dims.reduce(1, *) }

    /// The elements, in the tensor's storage order. Only meaningful element-wise for plain formats.
    public var floats: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(
            start: data.assumingMemoryBound(to: Float.self),
            count: desc.byteCount / MemoryLayout<Float>.stride)
    }

    /// A view of the same memory under another descriptor with the same byte size (a reshape of a plain
    /// tensor, e.g. (N, C, H, W) as (N, C·H·W)).
    public func reinterpreted(as dims: [Int]) -> Tensor {
        let other = MemoryDesc.plain(dims)
        precondition(
            desc.isPlain && other.byteCount == desc.byteCount,
            "cannot view a \(self.dims) tensor as \(dims)")
        return Tensor(other, borrowing: data, owner: self)
    }

    deinit {
        dnnl_memory_destroy(memory)
        if owned { data.deallocate() }
    }
}

extension Tensor {
    /// The elements in plain row-major order of `dims`, reordered from the tensor's format if needed.
    public func plainValues(on stream: ComputeStream = ComputeStream()) -> [Float] {
        let converter = FormatConverter(to: MemoryDesc.plain(dims))
        let plain = converter.convert(self, on: stream)
        stream.wait()
        return withExtendedLifetime(converter) {
            [Float](unsafeUninitializedCapacity: elementCount) { buffer, count in
                buffer.baseAddress!.update(from: plain.floats.baseAddress!, count: elementCount)
                count = elementCount
            }
        }
    }

    /// A plain tensor holding `values` (row-major order of `dims`).
    public convenience init(plain dims: [Int], values: [Float]) {
        precondition(values.count == dims.reduce(1, *), "\(values.count) values for a \(dims) tensor")
        self.init(plain: dims)
        _ = floats.update(fromContentsOf: values)
    }
}
