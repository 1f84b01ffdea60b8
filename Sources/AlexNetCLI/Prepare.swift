import ArgumentParser
import Datasets
import Foundation
import Timing
import Training

struct Prepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn class folders of JPEG/PNG images into shards for training (decoded, resized, stored once).",
        discussion: """
            SOURCE is either class folders (SOURCE/<class>/<image>; classes are the sorted folder names, \
            extensions .jpg .jpeg .png in any case, the format read from the content), or an ImageNet-style \
            root with train/ and val/ (or validation/) class-folder trees. Each image's short side is resized \
            to --size with Pillow's anti-aliased bilinear filter and centre-cropped square (--keep-aspect: not \
            cropped), stored as JPEG (--quality) or raw, in shards of about --shard-mb MiB: DEST/meta.json, \
            DEST/<split>-NNNNN.data and .index. meta.json also holds the training images' per-channel mean \
            and std and the RGB covariance's eigenvalues and eigenvectors (the paper's PCA lighting). An \
            interrupted prepare resumes after its last complete shard.
            """)

    @Argument(help: "Class folders, or a root with train/ and val/.") var source: String
    @Argument(help: "Directory for the shards and meta.json.") var destination: String
    @Option(help: "Short side after resizing, in pixels.") var size: Int = 256
    @Flag(help: "Keep the aspect ratio (short side --size) instead of centre-cropping square.") var keepAspect = false
    @Option(help: "JPEG quality 1…100 of the stored images.") var quality: Int = 90
    @Flag(help: "Store raw RGB instead of JPEG (larger, no re-encoding loss).") var raw = false
    @Option(help: "Shard size in MiB.") var shardMb: Int = 1024
    @Option(help: "Decoding threads. Default: the cores.") var threads: Int?
    @Option(help: "An unreadable image: skip (reported by path) or fail.") var onBadImage: BadImage = .skip

    enum BadImage: String, ExpressibleByArgument, CaseIterable { case skip, fail }

    func validate() throws {
        guard (16...4096).contains(size) else { throw ValidationError("--size must be 16…4096, got \(size)") }
        guard (1...100).contains(quality) else { throw ValidationError("--quality must be 1…100, got \(quality)") }
        guard (1...65536).contains(shardMb) else { throw ValidationError("--shard-mb must be 1…65536, got \(shardMb)") }
        if let threads, !(1...256).contains(threads) {
            throw ValidationError("--threads must be 1…256, got \(threads)")
        }
    }

    func run() throws {
        let images = try ImageSource(root: source)
        for note in images.notes { printError(note) }
        var options = Preparer.Options()
        options.size = size
        options.square = !keepAspect
        options.quality = raw ? nil : quality
        options.shardBytes = shardMb << 20
        options.threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        options.skipBadImages = onBadImage == .skip
        let bar = ProgressBar()
        let set = try Preparer(source: images, destination: destination, options: options).run(
            say: bar.say, progress: bar.show)
        bar.finish()
        let counts = set.splits.keys.sorted().map { "\($0) \(set.splits[$0]!.map(\.records).reduce(0, +))" }
        print("prepared \(counts.joined(separator: ", ")) images of \(set.classes.count) classes in \(destination)")
        func list(_ values: [Double]) -> String { values.map { String(format: "%.4f", $0) }.joined(separator: ", ") }
        let imageNet = ImageNetStatistics.self
        print("mean (RGB, 0…1): \(list(set.mean))   (ImageNet, commonly used: \(list(imageNet.mean)))")
        print("std:             \(list(set.std))   (ImageNet: \(list(imageNet.std)))")
        print(
            "PCA eigenvalues: \(list(set.eigenvalues))   (ImageNet, AlexNet's lighting: \(list(imageNet.eigenvalues)))")
        for (i, row) in set.eigenvectors.enumerated() {
            print("eigenvectors[\(i)]: \(list(row))   (ImageNet: \(list(imageNet.eigenvectors[i])))")
        }
        print("(eigenvectors are the columns; each column's sign is arbitrary)")
    }
}

/// `prepare`'s progress on stderr: on a terminal one line redrawn in place (a bar, images/s, ETA), five
/// times a second; otherwise (a log, Slurm's output file) a line every 10 s and at the end of each split.
final class ProgressBar {
    private let terminal = isatty(STDERR_FILENO) == 1
    private var lastShown = -Double.infinity
    private var visible = false

    /// A line of its own (the bar, if shown, is cleared first and redrawn at the next report).
    func say(_ line: String) {
        clear()
        printError(line)
    }

    func show(_ report: Preparer.Report) {
        let now = monotonicSeconds(), last = report.done == report.total
        guard last || now - lastShown >= (terminal ? 0.2 : 10) else { return }
        lastShown = now
        let fraction = Double(report.done) / Double(max(report.total, 1))
        let filled = Int(fraction * 30)
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled)
        let line = String(
            format: "prepare %@ [%@] %5.1f%% %d/%d images, %.0f images/s, ETA %@", report.split, bar, fraction * 100,
            report.done, report.total, report.imagesPerSecond, formatDuration(report.secondsLeft))
        if terminal {
            FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
            visible = true
            if last { finish() }
        } else {
            printError(line)
        }
    }

    /// Ends the bar's line.
    func finish() {
        if visible { FileHandle.standardError.write(Data("\n".utf8)) }
        visible = false
    }

    private func clear() {
        if visible { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        visible = false
    }
}
