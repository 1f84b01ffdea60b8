import Datasets

/// An IDX file (gzip'd when it starts with gzip's magic) read as images (3 dimensions) and as labels (1).
func fuzzIDX(_ bytes: UnsafeRawBufferPointer) {
    let path = scratchFile("input-idx", bytes)
    _ = try? IDXFile(path: path, rank: 3)
    _ = try? IDXFile(path: path, rank: 1)
}
