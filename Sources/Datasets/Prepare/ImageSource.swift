import Foundation

/// The images of a data set to prepare, in the order they are stored: class folders in sorted order
/// (torchvision's `ImageFolder`: the classes are the sorted folder names), files sorted within each.
public struct ImageSource: Sendable {
    public struct Item: Sendable, Equatable {
        public var path: String
        public var label: Int
    }

    public var classes: [String]
    /// Each split's images, by split name ("train", "val").
    public var splits: [(name: String, items: [Item])]
    /// Lines worth telling the user (empty class folders, files skipped by extension, the layout read).
    public var notes: [String]

    /// Extensions read (any case): JPEG and PNG, whatever the content turns out to be.
    public static let extensions: Set<String> = ["jpg", "jpeg", "png"]

    /// Reads `root`: either one ImageFolder tree (`root/<class>/<image>`, the one split `split`), or an
    /// ImageNet-style root with `train/` and `val/` (or `validation/`) class-folder trees.
    public init(root: String, split: String = "train") throws {
        let fm = FileManager.default
        func directories(_ path: String) throws -> [String] {
            try fm.contentsOfDirectory(atPath: path).filter {
                var isDirectory: ObjCBool = false
                return fm.fileExists(atPath: "\(path)/\($0)", isDirectory: &isDirectory) && isDirectory.boolValue
            }.sorted()
        }
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DatasetError(root, "no such directory")
        }
        let top = try directories(root)
        var notes: [String] = []
        var trees: [(String, String)]
        if top.contains("train"), let validation = ["val", "validation"].first(where: top.contains) {
            trees = [("train", "\(root)/train"), ("val", "\(root)/\(validation)")]
            notes.append("\(root): ImageNet layout, splits train/ and \(validation)/ (class folders)")
        } else {
            trees = [(split, root)]
            notes.append("\(root): class folders, one split (\(split))")
        }
        let classes = try directories(trees[0].1)
        guard !classes.isEmpty else {
            throw DatasetError(trees[0].1, "no class folders (expected <class>/<image>.jpg)")
        }
        var splits: [(String, [Item])] = []
        for (name, tree) in trees {
            let folders = try directories(tree)
            if name == "val" && folders.isEmpty {
                // ImageNet's validation images in one folder, labelled by a ground-truth file.
                let (items, note) = try ImageSource.flatValidation(root: root, folder: tree, classes: classes)
                notes.append(note)
                splits.append((name, items))
                continue
            }
            if let stray = folders.first(where: { !classes.contains($0) }) {
                throw DatasetError("\(tree)/\(stray)", "a class the training split does not have")
            }
            var items: [Item] = []
            var skipped = 0
            for (label, folder) in classes.enumerated() where folders.contains(folder) {
                let files = try fm.contentsOfDirectory(atPath: "\(tree)/\(folder)").sorted()
                var count = 0
                for file in files {
                    let ext = (file as NSString).pathExtension.lowercased()
                    guard ImageSource.extensions.contains(ext) else {
                        skipped += 1
                        continue
                    }
                    items.append(Item(path: "\(tree)/\(folder)/\(file)", label: label))
                    count += 1
                }
                if count == 0 {
                    notes.append("warning: \(tree)/\(folder): an empty class folder (no JPEG or PNG file)")
                }
            }
            if skipped > 0 { notes.append("\(tree): \(skipped) files skipped (not .jpg, .jpeg or .png)") }
            guard !items.isEmpty else { throw DatasetError(tree, "no images") }
            splits.append((name, items))
        }
        self.classes = classes
        self.splits = splits
        self.notes = notes
    }

    /// The ground-truth files read for a flat validation folder, in the order they are looked for (in the
    /// root, then in the folder): Kaggle's `LOC_val_solution.csv` (`ImageId,PredictionString`, the class
    /// the first word of the prediction) and a text file of `FILE LABEL` lines (Caffe's `val.txt`: LABEL a
    /// class index in sorted order, or a class name).
    public static let groundTruthFiles = ["LOC_val_solution.csv", "val.txt"]

    static func flatValidation(root: String, folder: String, classes: [String]) throws -> ([Item], String) {
        let candidates = groundTruthFiles.flatMap { ["\(root)/\($0)", "\(folder)/\($0)"] }
        guard let file = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw DatasetError(
                folder,
                "a flat validation folder needs a ground-truth file: \(groundTruthFiles.joined(separator: " or ")) in \(root) or \(folder) (ILSVRC2012_validation_ground_truth.txt needs the devkit's meta.mat: convert it to val.txt)"
            )
        }
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        var labels: [String: Int] = [:]
        let csv = file.hasSuffix(".csv")
        for (n, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let fields =
                csv
                ? line.split(separator: ",", maxSplits: 1).map(String.init)
                : line.split(separator: " ").map(String.init)
            if csv && n == 0 && fields.first == "ImageId" { continue }
            guard fields.count >= 2 else {
                throw DatasetError(file, "line \(n + 1): expected two fields, got '\(line)'")
            }
            let image = csv ? fields[0] : (fields[0] as NSString).deletingPathExtension
            let word = csv ? String(fields[1].split(separator: " ").first ?? "") : fields[1]
            if let label = index[word] ?? Int(word).flatMap({ (0..<classes.count).contains($0) ? $0 : nil }) {
                labels[image] = label
            } else {
                throw DatasetError(
                    file,
                    "line \(n + 1): '\(word)' is neither a class folder name nor a class index below \(classes.count)")
            }
        }
        var items: [Item] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: folder).sorted() {
            guard extensions.contains((name as NSString).pathExtension.lowercased()) else { continue }
            guard let label = labels[(name as NSString).deletingPathExtension] else {
                throw DatasetError(file, "no label for \(folder)/\(name)")
            }
            items.append(Item(path: "\(folder)/\(name)", label: label))
        }
        return (items, "\(folder): flat validation folder, \(items.count) images labelled by \(file)")
    }
}
