import CDNNL
import CFloatMode

// Thin Swift wrappers over oneDNN's C API: the engine, streams, memory descriptors and primitives.
// Layers use these; nothing outside this module sees a oneDNN handle.

/// Stops with a message naming what was being done when oneDNN reports an error. oneDNN errors here
/// are programming errors (every user-facing shape is validated before a primitive is built).
@inline(__always)
func dnnlCheck(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
    if status != dnnl_success {
        fatalError("oneDNN failed (status \(status.rawValue)) while \(what())")
    }
}

/// The process-wide oneDNN CPU engine. Engines are thread-safe; streams are not (see `ComputeStream`).
public final class ComputeEngine: @unchecked Sendable {
    public static let shared = ComputeEngine()
    let handle: dnnl_engine_t

    private init() {
        var engine: dnnl_engine_t?
        dnnlCheck(dnnl_engine_create(&engine, dnnl_cpu, 0), "creating the CPU engine")
        handle = engine!
    }

    /// The instruction set oneDNN's kernels use in this process, as oneDNN names it (`avx2`,
    /// `avx512_core`, `avx512_core_bf16`, …): the machine's best, capped by `ONEDNN_MAX_CPU_ISA`.
    public static var instructionSet: String {
        let names: [(dnnl_cpu_isa_t, String)] = [
            (dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx"), (dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16"),
            (dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni"), (dnnl_cpu_isa_avx512_core, "avx512_core"),
            (dnnl_cpu_isa_avx2_vnni, "avx2_vnni"), (dnnl_cpu_isa_avx2, "avx2"), (dnnl_cpu_isa_avx, "avx"),
            (dnnl_cpu_isa_sse41, "sse41"),
        ]
        let isa = dnnl_get_effective_cpu_isa().rawValue
        return names.first { ($0.0.rawValue & isa) == $0.0.rawValue }?.1 ?? "any"
    }

    /// Whether the kernels use AVX-512 (`avx512_core` or above).
    public static var usesAVX512: Bool {
        let isa = dnnl_get_effective_cpu_isa().rawValue, avx512 = dnnl_cpu_isa_avx512_core.rawValue
        return (isa & avx512) == avx512
    }

    /// The number of OpenMP threads oneDNN's kernels use in this process.
    public static var threadCount: Int {
        get { Int(omp_get_max_threads()) }
        set {
            precondition(newValue >= 1, "thread count must be at least 1, got \(newValue)")
            omp_set_num_threads(Int32(newValue))
            // Every thread that computes flushes denormals (each rank's thread sets its count, so its team too).
            float_mode_flush_denormals(Int32(newValue))
        }
    }
}

/// An in-order oneDNN stream. Each network owns one; a stream must not be used from two threads at once.
public final class ComputeStream {
    let handle: dnnl_stream_t

    public init(engine: ComputeEngine = .shared) {
        var stream: dnnl_stream_t?
        dnnlCheck(dnnl_stream_create(&stream, engine.handle, dnnl_stream_default_flags.rawValue), "creating a stream")
        handle = stream!
    }

    /// Blocks until every primitive submitted to the stream has finished.
    public func wait() { dnnlCheck(dnnl_stream_wait(handle), "waiting for a stream") }

    deinit { dnnl_stream_destroy(handle) }
}

/// A oneDNN memory descriptor: logical dimensions, element type and memory format (plain or blocked).
public struct MemoryDesc: Equatable, @unchecked Sendable {
    var raw: dnnl_memory_desc_t

    init(raw: dnnl_memory_desc_t) { self.raw = raw }

    /// A descriptor for `f32` data with the given dimensions and format tag (`dnnl_format_tag_any`
    /// lets a primitive choose).
    init(_ dims: [Int], _ tag: dnnl_format_tag_t) {
        precondition(!dims.isEmpty && dims.count <= Int(DNNL_MAX_NDIMS), "bad tensor rank \(dims.count)")
        var md = dnnl_memory_desc_t()
        let d = dims.map { Int64($0) }
        dnnlCheck(
            dnnl_memory_desc_init_by_tag(&md, Int32(d.count), d, dnnl_f32, tag),
            "describing a \(dims) tensor")
        raw = md
    }

    /// A descriptor with the given dimensions over the same plain row-major layout (`a`, `ab`, `abc`, ...).
    static func plain(_ dims: [Int]) -> MemoryDesc {
        let tags: [dnnl_format_tag_t] = [dnnl_a, dnnl_ab, dnnl_abc, dnnl_abcd, dnnl_abcde]
        return MemoryDesc(dims, tags[dims.count - 1])
    }

    /// Logical dimensions, outermost first (N, C, H, W for activations).
    public var dims: [Int] {
        withUnsafeBytes(of: raw.dims) { raw in
            Array(raw.bindMemory(to: Int64.self).prefix(Int(self.raw.ndims)).map { Int($0) })
        }
    }

    /// Bytes the format occupies, including any padding of blocked formats.
    public var byteCount: Int {
        var md = raw
        return dnnl_memory_desc_get_size(&md)
    }

    /// Whether the format is the plain row-major one for its dimensions.
    var isPlain: Bool { self == MemoryDesc.plain(dims) }

    public static func == (lhs: MemoryDesc, rhs: MemoryDesc) -> Bool {
        var l = lhs.raw, r = rhs.raw
        return dnnl_memory_desc_equal(&l, &r) != 0
    }
}

/// One oneDNN primitive and its primitive descriptor.
final class Primitive {
    let descriptor: dnnl_primitive_desc_t
    let handle: dnnl_primitive_t
    /// Scratch memory the primitive needs while it runs (nil when it needs none).
    private let scratchpad: Tensor?

    /// Builds a primitive from an operation descriptor (`dnnl_convolution_desc_t`, ...).
    /// - Parameter hint: the forward primitive, for backward primitives.
    init<OpDesc>(
        _ opDesc: OpDesc, hint: Primitive? = nil, engine: ComputeEngine = .shared,
        what: @autoclosure () -> String
    ) {
        var pd: dnnl_primitive_desc_t?
        var desc = opDesc
        let attr = Primitive.userScratchpadAttributes()
        defer { dnnl_primitive_attr_destroy(attr) }
        let status = withUnsafePointer(to: &desc) { p in
            dnnl_primitive_desc_create(&pd, UnsafeRawPointer(p), attr, engine.handle, hint?.descriptor)
        }
        dnnlCheck(status, "creating the primitive descriptor for \(what())")
        descriptor = pd!
        var prim: dnnl_primitive_t?
        dnnlCheck(dnnl_primitive_create(&prim, descriptor), "creating the primitive for \(what())")
        handle = prim!
        scratchpad = Primitive.makeScratchpad(descriptor)
    }

    /// A reorder (format conversion) from `source` to `destination`.
    init(reorderFrom source: MemoryDesc, to destination: MemoryDesc, engine: ComputeEngine = .shared) {
        var pd: dnnl_primitive_desc_t?
        var s = source.raw, d = destination.raw
        let attr = Primitive.userScratchpadAttributes()
        defer { dnnl_primitive_attr_destroy(attr) }
        dnnlCheck(
            dnnl_reorder_primitive_desc_create(&pd, &s, engine.handle, &d, engine.handle, attr),
            "creating a reorder for \(source.dims)")
        descriptor = pd!
        var prim: dnnl_primitive_t?
        dnnlCheck(dnnl_primitive_create(&prim, descriptor), "creating a reorder for \(source.dims)")
        handle = prim!
        scratchpad = Primitive.makeScratchpad(descriptor)
    }

    /// Attributes asking for a user-managed scratchpad. oneDNN's default (library-managed) scratchpad is
    /// shared between primitives and is not safe when primitives run from several threads, as the
    /// in-process ranks and the test runner do; each primitive here owns its scratch memory instead.
    private static func userScratchpadAttributes() -> dnnl_primitive_attr_t {
        var attr: dnnl_primitive_attr_t?
        dnnlCheck(dnnl_primitive_attr_create(&attr), "creating primitive attributes")
        dnnlCheck(
            dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "setting the scratchpad mode")
        return attr!
    }

    private static func makeScratchpad(_ descriptor: dnnl_primitive_desc_t) -> Tensor? {
        let desc = MemoryDesc(raw: dnnl_primitive_desc_query_md(descriptor, dnnl_query_scratchpad_md, 0).pointee)
        return desc.byteCount > 0 ? Tensor(desc) : nil
    }

    /// The memory descriptor the primitive expects for an argument (`dnnl_query_src_md`, ...).
    func desc(_ query: dnnl_query_t, _ index: Int32 = 0) -> MemoryDesc {
        MemoryDesc(raw: dnnl_primitive_desc_query_md(descriptor, query, index).pointee)
    }

    /// The implementation oneDNN picked, e.g. `jit:avx512_core`.
    var implementation: String {
        var name: UnsafePointer<CChar>?
        dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &name)
        return name.map { String(cString: $0) } ?? "?"
    }

    /// Runs the primitive on `stream` with `(argument id, tensor)` pairs.
    func execute(_ stream: ComputeStream, _ arguments: [(Int32, Tensor)]) {
        var args = arguments.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1.memory) }
        if let scratchpad { args.append(dnnl_exec_arg_t(arg: CDNNL_ARG_SCRATCHPAD, memory: scratchpad.memory)) }
        dnnlCheck(
            dnnl_primitive_execute(handle, stream.handle, Int32(args.count), args),
            "executing \(implementation)")
    }

    deinit {
        dnnl_primitive_destroy(handle)
        dnnl_primitive_desc_destroy(descriptor)
    }
}

/// oneDNN argument ids, re-exported from the shim because their macros are defined through other macros.
enum Arg {
    static let src = CDNNL_ARG_SRC
    static let dst = CDNNL_ARG_DST
    static let from = CDNNL_ARG_FROM
    static let to = CDNNL_ARG_TO
    static let weights = CDNNL_ARG_WEIGHTS
    static let bias = CDNNL_ARG_BIAS
    static let workspace = CDNNL_ARG_WORKSPACE
    static let diffSrc = CDNNL_ARG_DIFF_SRC
    static let diffDst = CDNNL_ARG_DIFF_DST
    static let diffWeights = CDNNL_ARG_DIFF_WEIGHTS
    static let diffBias = CDNNL_ARG_DIFF_BIAS
}

/// Converts tensors to one memory format, reordering only when the incoming format differs.
/// The reorder and its output buffer are built on first use and kept while the incoming format stays.
final class FormatConverter {
    let target: MemoryDesc
    private var cached: (source: MemoryDesc, reorder: Primitive, buffer: Tensor)?

    init(to target: MemoryDesc) { self.target = target }

    func convert(_ tensor: Tensor, on stream: ComputeStream) -> Tensor {
        if tensor.desc == target { return tensor }
        if cached == nil || cached!.source != tensor.desc {
            precondition(
                tensor.desc.dims == target.dims,
                "cannot convert a \(tensor.desc.dims) tensor to \(target.dims)")
            cached = (tensor.desc, Primitive(reorderFrom: tensor.desc, to: target), Tensor(target))
        }
        cached!.reorder.execute(stream, [(Arg.from, tensor), (Arg.to, cached!.buffer)])
        return cached!.buffer
    }
}
