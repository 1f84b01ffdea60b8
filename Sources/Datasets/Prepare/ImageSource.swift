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

    /// Reads `root`: either one ImageFolder tree (`root/<class>/<image>`, one split "train"), or an
    /// ImageNet-style root with `train/` and `val/` (or `validation/`) class-folder trees.
    public init(root: String) throws {
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
            trees = [("train", root)]
            notes.append("\(root): class folders, one split (train)")
        }
        let classes = try directories(trees[0].1)
        guard !classes.isEmpty else {
            throw DatasetError(trees[0].1, "no class folders (expected <class>/<image>.jpg)")
        }
        var splits: [(String, [Item])] = []
        for (name, tree) in trees {
            let folders = try directories(tree)
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
}
