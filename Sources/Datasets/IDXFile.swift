import Foundation

/// The IDX format of MNIST-style data sets: two zero bytes, a type byte (0x08: unsigned bytes), the number
/// of dimensions, each dimension as a big-endian UInt32, then the data in row-major order.
public struct IDXFile: Sendable {
    public let dims: [Int]
    public let values: [UInt8]

    /// Parses an IDX file (gzip'd or not).
    /// - Parameter rank: the number of dimensions the caller expects (3 for images, 1 for labels).
    public init(path: String, rank: Int) throws {
        let bytes = try readMaybeGzip(path)
        guard bytes.count >= 4 else {
            throw DatasetError(path, "too short for an IDX header (\(bytes.count) bytes)")
        }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw DatasetError(path, "not an IDX file (the first two bytes must be zero)")
        }
        guard bytes[2] == 0x08 else {
            throw DatasetError(path, String(format: "IDX element type 0x%02x is not unsigned bytes (0x08)", bytes[2]))
        }
        guard Int(bytes[3]) == rank else {
            throw DatasetError(path, "IDX file has \(bytes[3]) dimensions, expected \(rank)")
        }
        let header = 4 + 4 * rank
        guard bytes.count >= header else {
            throw DatasetError(path, "truncated IDX header: \(bytes.count) bytes, expected \(header)")
        }
        var dims: [Int] = []
        for d in 0..<rank {
            let o = 4 + 4 * d
            dims.append(Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3]))
        }
        // Each dimension is below 2³², so the product is checked for overflow before it is trusted.
        var expected = 1
        for d in dims {
            let (product, overflow) = expected.multipliedReportingOverflow(by: d)
            guard !overflow else {
                let shape = dims.map(String.init).joined(separator: "×")
                throw DatasetError(
                    path, "corrupt IDX header: dimensions \(shape) are too large")
            }
            expected = product
        }
        let found = bytes.count - header
        guard found == expected else {
            let shape = dims.map(String.init).joined(separator: "×")
            throw DatasetError(
                path,
                found < expected
                    ? "truncated: \(shape) needs \(expected) data bytes, found \(found)"
                    : "\(found - expected) bytes after the \(shape) data")
        }
        self.dims = dims
        values = Array(bytes[header...])
    }
}
