import CTurboJPEG
import Compute
import Dispatch
import Foundation
import Timing

/// `alexnet-dist prepare`: decodes every image of an `ImageSource` once, resizes it (Pillow's anti-aliased
/// bilinear) so the short side is `size`, centre-crops it square, stores it (JPEG at `quality`, or raw) in
/// shards, and records the training images' per-channel mean and std and the RGB covariance's
/// eigenvalues and eigenvectors (the paper's PCA lighting). Images are processed on `threads` threads in
/// blocks and written in source order, so the output does not depend on the thread count, and an
/// interrupted run resumes after the last complete shard with the same bytes as an uninterrupted one.
public final class Preparer: Sendable {
    public struct Options: Sendable {
        public var size = 256
        public var square = true
        /// JPEG quality, or nil to store raw RGB.
        public var quality: Int? = 90
        public var shardBytes = 1 << 30
        public var threads = 2
        /// Skip an unreadable image (reported by path) instead of stopping.
        public var skipBadImages = true
        /// Tests: stop (with an error) once this many shards of a split are complete, as a killed run would.
        var interruptAfterShards: Int?
        public init() {}
    }

    public let source: ImageSource
    public let destination: String
    public let options: Options

    public init(source: ImageSource, destination: String, options: Options) {
        self.source = source
        self.destination = destination
        self.options = options
    }

    /// Integer sums over the training pixels (exact, so the statistics do not depend on order or threads).
    struct PixelSums: Codable, Equatable {
        var pixels: Int64 = 0
        var sum = [Int64](repeating: 0, count: 3)
        /// Σ x_i·x_j for i ≤ j: (0,0) (0,1) (0,2) (1,1) (1,2) (2,2).
        var products = [Int64](repeating: 0, count: 6)

        mutating func add(_ other: PixelSums) {
            pixels += other.pixels
            for i in 0..<3 { sum[i] += other.sum[i] }
            for i in 0..<6 { products[i] += other.products[i] }
        }

        init() {}

        init(_ image: RGBImage) {
            pixels = Int64(image.width * image.height)
            var s = (Int64(0), Int64(0), Int64(0))
            var p = [Int64](repeating: 0, count: 6)
            image.pixels.withUnsafeBufferPointer { px in
                var i = 0
                while i < px.count {
                    let r = Int64(px[i]), g = Int64(px[i + 1]), b = Int64(px[i + 2])
                    s.0 += r
                    s.1 += g
                    s.2 += b
                    p[0] += r * r
                    p[1] += r * g
                    p[2] += r * b
                    p[3] += g * g
                    p[4] += g * b
                    p[5] += b * b
                    i += 3
                }
            }
            sum = [s.0, s.1, s.2]
            products = p
        }
    }

    /// What a resumed run needs: the shards written, how many images of which split they cover, the sums.
    struct Progress: Codable, Equatable {
        var sourceCount: [Int]
        var split = 0
        var consumed = 0
        var shards: [String: [ShardSet.Shard]] = [:]
        var sums = PixelSums()
        var skipped: [String] = []
    }

    var progressPath: String { "\(destination)/.prepare-progress.json" }
    public var metaPath: String { "\(destination)/meta.json" }

    /// Prepares every split; `say` gets progress lines. Returns the set as written to `meta.json`.
    /// Where a split stands, after each block of images.
    public struct Report: Sendable, Equatable {
        public var split: String
        public var done: Int
        public var total: Int
        /// Since this run started on the split.
        public var imagesPerSecond: Double
        public var secondsLeft: Double
    }

    /// Prepares every split, saying what is worth a line (resuming, skipped images) through `say` and
    /// reporting progress after each block through `progress`.
    public func run(say: (String) -> Void, progress report: (Report) -> Void = { _ in }) throws -> ShardSet {
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        AtomicFile.removeLeftovers(in: destination) { $0.hasSuffix(".data") || $0.hasSuffix(".index") }
        let counts = source.splits.map(\.items.count)
        var progress = Progress(sourceCount: counts)
        if let data = FileManager.default.contents(atPath: progressPath),
            let saved = try? JSONDecoder().decode(Progress.self, from: data), saved.sourceCount == counts
        {
            progress = saved
            say("resuming: \(progress.consumed) images of \(source.splits[progress.split].name) already in shards")
        }
        let workers = max(1, options.threads)
        let decoders = try (0..<workers).map { _ in try ImageDecoder() }
        let encoders = try (0..<workers).map { _ in try JPEGEncoder() }
        while progress.split < source.splits.count {
            let (name, items) = source.splits[progress.split]
            let writer = ShardWriter(
                directory: destination, split: name, shardBytes: options.shardBytes, done: progress.shards[name] ?? [])
            let started = monotonicSeconds(), first = progress.consumed
            var pending = PixelSums()
            var next = progress.consumed
            while next < items.count {
                let block = Array(items[next..<min(items.count, next + 32 * workers)])
                let results = Results(count: block.count)
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    for j in stride(from: w, to: block.count, by: workers) {
                        results.set(j, Result { try self.process(block[j], decoders[w], encoders[w]) })
                    }
                }
                for (j, result) in results.all.enumerated() {
                    switch result {
                    case .success(let stored):
                        try writer.append(
                            stored.bytes, label: block[j].label, width: stored.width, height: stored.height)
                        if name == "train" { pending.add(stored.sums) }
                    case .failure(let error):
                        guard options.skipBadImages else { throw error }
                        say("skipped \(error)")
                        progress.skipped.append(block[j].path)
                    }
                    let shardsBefore = progress.shards[name]?.count ?? 0
                    if writer.shards.count > shardsBefore {
                        // A shard is complete: everything up to here is on disk.
                        progress.shards[name] = writer.shards
                        progress.consumed = next + j + 1
                        progress.sums.add(pending)
                        pending = PixelSums()
                        try AtomicFile.write(progressPath, data: Array(try JSONEncoder().encode(progress)))
                        if let stop = options.interruptAfterShards, writer.shards.count >= stop {
                            throw DatasetError(destination, "interrupted after \(stop) shards")
                        }
                    }
                }
                next += block.count
                let elapsed = monotonicSeconds() - started
                let rate = Double(next - first) / max(elapsed, 1e-9)
                report(
                    Report(
                        split: name, done: next, total: items.count, imagesPerSecond: rate,
                        secondsLeft: rate > 0 ? Double(items.count - next) / rate : 0))
            }
            try writer.finishShard()
            progress.shards[name] = writer.shards
            progress.sums.add(pending)
            progress.split += 1
            progress.consumed = 0
            try AtomicFile.write(progressPath, data: Array(try JSONEncoder().encode(progress)))
        }
        let set = try shardSet(progress)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(metaPath, data: Array(try encoder.encode(set)))
        unlink(progressPath)
        if !progress.skipped.isEmpty { say("\(progress.skipped.count) unreadable images skipped") }
        return set
    }

    /// One image: read, decoded, resized, cropped, stored.
    private func process(
        _ item: ImageSource.Item, _ decoder: ImageDecoder, _ encoder: JPEGEncoder
    ) throws -> (
        bytes: [UInt8], width: Int, height: Int, sums: PixelSums
    ) {
        guard let data = FileManager.default.contents(atPath: item.path) else {
            throw DatasetError(item.path, "cannot be read")
        }
        let image = try decoder.decode([UInt8](data), path: item.path).prepared(
            size: options.size, square: options.square)
        let bytes = try options.quality.map { try encoder.encode(image, quality: $0) } ?? image.pixels
        return (bytes, image.width, image.height, PixelSums(image))
    }

    /// The set's description from the finished progress: shards and statistics.
    func shardSet(_ progress: Progress) throws -> ShardSet {
        let s = progress.sums
        let n = Double(max(s.pixels, 1))
        let mean = s.sum.map { Double($0) / n / 255 }
        var covariance = [[Double]](repeating: [0, 0, 0], count: 3)
        let pairs = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
        for (k, (i, j)) in pairs.enumerated() {
            let c = Double(s.products[k]) / n / (255 * 255) - mean[i] * mean[j]
            covariance[i][j] = c
            covariance[j][i] = c
        }
        let (values, vectors) = SymmetricEigen.decompose3(covariance)
        return ShardSet(
            classes: source.classes, storage: options.quality.map { .jpeg(quality: $0) } ?? .raw, size: options.size,
            square: options.square, splits: progress.shards, mean: mean,
            std: (0..<3).map { covariance[$0][$0].squareRoot() }, eigenvalues: values, eigenvectors: vectors)
    }

    /// Per-block results, set from the workers.
    final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var slots: [Result<(bytes: [UInt8], width: Int, height: Int, sums: PixelSums), Error>?]
        init(count: Int) { slots = Array(repeating: nil, count: count) }
        func set(_ i: Int, _ r: Result<(bytes: [UInt8], width: Int, height: Int, sums: PixelSums), Error>) {
            lock.lock()
            slots[i] = r
            lock.unlock()
        }
        var all: [Result<(bytes: [UInt8], width: Int, height: Int, sums: PixelSums), Error>] {
            lock.lock()
            defer { lock.unlock() }
            return slots.map { $0! }
        }
    }
}

/// JPEG encoding by libjpeg-turbo (4:2:0, the accurate DCT), one encoder per thread.
/// Used by one thread at a time (each worker its own), hence `@unchecked Sendable`.
public final class JPEGEncoder: @unchecked Sendable {
    private let handle: tjhandle

    public init() throws {
        guard let handle = tjInitCompress() else { throw DatasetError("libjpeg-turbo", "could not start an encoder") }
        self.handle = handle
    }

    deinit { tjDestroy(handle) }

    public func encode(_ image: RGBImage, quality: Int) throws -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let status = image.pixels.withUnsafeBufferPointer {
            tjCompress2(
                handle, $0.baseAddress, Int32(image.width), 0, Int32(image.height), Int32(TJPF_RGB.rawValue), &out,
                &size, Int32(TJSAMP_420.rawValue), Int32(quality), TJFLAG_ACCURATEDCT)
        }
        defer { tjFree(out) }
        guard status == 0, let out else {
            throw DatasetError("libjpeg-turbo", "JPEG encoding failed: \(String(cString: tjGetErrorStr2(handle)))")
        }
        return Array(UnsafeBufferPointer(start: out, count: Int(size)))
    }
}

/// Eigenvalues (descending) and unit eigenvectors (as columns) of a symmetric 3×3 matrix, by cyclic Jacobi
/// rotations.
enum SymmetricEigen {
    static func decompose3(_ m: [[Double]]) -> (values: [Double], vectors: [[Double]]) {
        var a = m
        var v: [[Double]] = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
        for _ in 0..<50 {
            let off = a[0][1] * a[0][1] + a[0][2] * a[0][2] + a[1][2] * a[1][2]
            if off < 1e-30 { break }
            for (p, q) in [(0, 1), (0, 2), (1, 2)] where a[p][q] != 0 {
                let theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
                let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                let c = 1 / (t * t + 1).squareRoot(), s = t * c
                for k in 0..<3 {
                    let akp = a[k][p], akq = a[k][q]
                    a[k][p] = c * akp - s * akq
                    a[k][q] = s * akp + c * akq
                }
                for k in 0..<3 {
                    let apk = a[p][k], aqk = a[q][k]
                    a[p][k] = c * apk - s * aqk
                    a[q][k] = s * apk + c * aqk
                }
                for k in 0..<3 {
                    let vkp = v[k][p], vkq = v[k][q]
                    v[k][p] = c * vkp - s * vkq
                    v[k][q] = s * vkp + c * vkq
                }
            }
        }
        let order = [0, 1, 2].sorted { a[$0][$0] > a[$1][$1] }
        return (order.map { a[$0][$0] }, (0..<3).map { row in order.map { v[row][$0] } })
    }
}
