/// Scratch buffers reused across calls (two float areas, top-k keys and indices).
struct FloatScratch {
    private let areas = [ScratchBytes(), ScratchBytes(), ScratchBytes(), ScratchBytes()]

    func floats(_ which: Int, _ count: Int) -> UnsafeMutableBufferPointer<Float> {
        areas[which].bytes(4 * count).bindMemory(to: Float.self)
    }
    func keys(_ count: Int) -> UnsafeMutableBufferPointer<UInt64> {
        areas[2].bytes(8 * count).bindMemory(to: UInt64.self)
    }
    func indices(_ count: Int) -> UnsafeMutableBufferPointer<UInt32> {
        areas[3].bytes(4 * count).bindMemory(to: UInt32.self)
    }
}
