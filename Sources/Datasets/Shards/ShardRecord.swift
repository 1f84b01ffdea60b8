/// One image's entry in a shard's index: where its bytes lie in the shard's data file, its label and its
/// size in pixels. Stored as 24 little-endian bytes: offset (8), size (4), label (4), width (2), height (2),
/// reserved zero (4).
public struct ShardRecord: Sendable, Equatable {
    public var offset: UInt64
    public var size: UInt32
    public var label: UInt32
    public var width: UInt16
    public var height: UInt16

    public init(offset: UInt64, size: UInt32, label: UInt32, width: UInt16, height: UInt16) {
        self.offset = offset
        self.size = size
        self.label = label
        self.width = width
        self.height = height
    }

    public static let byteCount = 24

    func append(to bytes: inout [UInt8]) {
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        put(offset)
        put(size)
        put(label)
        put(width)
        put(height)
        put(UInt32(0))
    }

    /// The index's entries, checked: whole entries, contiguous from offset 0, covering `dataSize` exactly,
    /// labels below `classes`, sizes non-zero. Errors name `path` and the entry.
    static func parseIndex(_ bytes: [UInt8], dataSize: Int, classes: Int, path: String) throws -> [ShardRecord] {
        guard bytes.count % byteCount == 0 else {
            throw DatasetError(path, "index of \(bytes.count) bytes, expected a multiple of \(byteCount)")
        }
        var records: [ShardRecord] = []
        records.reserveCapacity(bytes.count / byteCount)
        var expected: UInt64 = 0
        try bytes.withUnsafeBytes { raw in
            for i in 0..<(bytes.count / byteCount) {
                let at = i * byteCount
                func load<T: FixedWidthInteger>(_: T.Type, _ offset: Int) -> T {
                    T(littleEndian: raw.loadUnaligned(fromByteOffset: at + offset, as: T.self))
                }
                let record = ShardRecord(
                    offset: load(UInt64.self, 0), size: load(UInt32.self, 8), label: load(UInt32.self, 12),
                    width: load(UInt16.self, 16), height: load(UInt16.self, 18))
                guard load(UInt32.self, 20) == 0 else {
                    throw DatasetError(path, "entry \(i): reserved bytes are not zero")
                }
                guard record.offset == expected else {
                    throw DatasetError(
                        path,
                        "entry \(i) starts at byte \(record.offset), expected \(expected) (entries are contiguous)")
                }
                guard record.size > 0, record.width > 0, record.height > 0 else {
                    throw DatasetError(
                        path, "entry \(i) is empty (size \(record.size), \(record.width)×\(record.height))")
                }
                guard Int(record.label) < classes else {
                    throw DatasetError(path, "entry \(i) has label \(record.label), expected below \(classes) classes")
                }
                expected = record.offset + UInt64(record.size)
                guard expected <= UInt64(dataSize) else {
                    throw DatasetError(path, "entry \(i) ends at byte \(expected), past the data file's \(dataSize)")
                }
                records.append(record)
            }
        }
        guard expected == UInt64(dataSize) else {
            throw DatasetError(path, "the entries cover \(expected) bytes of the data file's \(dataSize)")
        }
        return records
    }
}
