#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (Scripts/fuzz-corpus/TARGET/*): a few small valid inputs of each
format, so that libFuzzer starts inside the format rather than at its first byte. Run again only to change
the seeds: they are committed.

    Scripts/make-fuzz-seeds.py [DIR]      (default: Scripts/fuzz-corpus)
"""
import gzip
import io
import json
import os
import struct
import sys
import zlib

from PIL import Image

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "fuzz-corpus")


def put(target, name, data):
    os.makedirs(os.path.join(root, target), exist_ok=True)
    with open(os.path.join(root, target, name), "wb") as f:
        f.write(data)


def safetensors(tensors, metadata):
    """tensors: [(name, shape, floats)] in offset order."""
    header, blob = {}, b""
    for name, shape, values in tensors:
        data = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + blob


model_meta = {"format": "alexnet-dist", "variant": "small", "groups": "1", "normalization_mean": "[0.286]",
              "normalization_std": "[0.353]"}
put("safetensors", "two-tensors", safetensors([("a", [2, 3], [0.5] * 6), ("b", [4], [1, 2, 3, 4])], {"k": "v"}))
put("safetensors", "model-metadata", safetensors([("conv1.weight", [1, 1, 1, 1], [0.25])], model_meta))
put("safetensors", "checkpoint-metadata", safetensors(
    [("conv1.weight", [1], [0.0]), ("momentum.conv1.weight", [1], [0.0])],
    dict(model_meta, step="3", epoch="0", example_in_epoch="48", seed="1", schedule="{}")))
put("safetensors", "empty", safetensors([], None))


def idx(dims, values):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(values)


images = idx([2, 3, 3], range(18))
labels = idx([2], [1, 7])
put("idx", "images", images)
put("idx", "labels", labels)
put("idx", "images-gz", gzip.compress(images, mtime=0))
put("idx", "labels-gz", gzip.compress(labels, mtime=0))


def frame(kind, count, parameter, payload):
    head = b"AXF1" + bytes([kind, 0]) + struct.pack("<HQqI", 0, count, parameter, len(payload))
    crc = zlib.crc32(payload, zlib.crc32(head))
    return head + struct.pack("<I", crc) + payload


# The fuzz target reads the first byte as the expected element count / 16.
put("frame", "fp32", bytes([1]) + frame(0, 16, 0, struct.pack("<16f", *range(16))))
put("frame", "bf16", bytes([1]) + frame(1, 16, 0, struct.pack("<16H", *[0x3F80] * 16)))
put("frame", "fp16", bytes([1]) + frame(2, 16, 3, struct.pack("<16H", *[0x3C00] * 16)))
put("frame", "sparse", bytes([1]) + frame(3, 16, 2, struct.pack("<2I2f", 3, 5, 1.5, -2.0)))


def jpeg(mode, size, **options):
    out = io.BytesIO()
    Image.new(mode, size, (90, 160, 30) if mode == "RGB" else 120 if mode == "L" else (10, 20, 30, 40)).save(
        out, "JPEG", quality=90, **options)
    return out.getvalue()


def png(mode, size):
    out = io.BytesIO()
    image = Image.new(mode, size)
    image.putdata([(i * 37) % (65536 if mode == "I;16" else 256) if mode in ("L", "P", "I;16")
                   else tuple((i * k) % 256 for k in (3, 5, 7, 11)[:len(mode)]) for i in range(size[0] * size[1])])
    image.save(out, "PNG")
    return out.getvalue()


put("image", "rgb.jpg", jpeg("RGB", (12, 9)))
put("image", "grey.jpg", jpeg("L", (9, 12)))
put("image", "cmyk.jpg", jpeg("CMYK", (8, 8)))
put("image", "progressive.jpg", jpeg("RGB", (16, 16), progressive=True))
for mode in ("RGB", "RGBA", "L", "P", "I;16"):
    put("image", f"{mode.replace(';', '')}.png", png(mode, (7, 5)))


def shards(records):
    """records: [(bytes, label, width, height)] -> the fuzz target's three parts."""
    data, index = b"", b""
    for blob, label, width, height in records:
        index += struct.pack("<QIIHHI", len(data), len(blob), label, width, height, 0)
        data += blob
    meta = {"format": "alexnet-dist shards", "version": 1, "classes": ["a", "b"], "storage": {"jpeg": {"quality": 90}},
            "size": 16, "square": True,
            "splits": {"train": [{"name": "train-00000", "records": len(records), "bytes": len(data),
                                  "crc32": zlib.crc32(data)}]},
            "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "eigenvalues": [0.2, 0.02, 0.002],
            "eigenvectors": [[-0.58, -0.81, 0.04], [-0.58, 0.35, -0.73], [-0.57, 0.46, 0.68]]}
    text = json.dumps(meta).encode()
    return struct.pack("<H", len(text)) + text + struct.pack("<H", len(index)) + index + data


tile = jpeg("RGB", (16, 16))
put("shards", "two-jpegs", shards([(tile, 0, 16, 16), (tile, 1, 16, 16)]))
raw = bytes(range(256)) * 3
put("shards", "raw", shards([(raw, 1, 16, 16)]).replace(b'{"jpeg": {"quality": 90}}', b'{"raw": {}}'))

put("cli", "codecs", b"none\nzstd:3\nbf16+zstd\nfp16\ntopk:0.05+zstd:2\nnone,bf16,topk\n21,28\n1gbit\nlocal\n")
put("cli", "hostfile", b"# hosts\nnode1 slots=2 max_slots=4\nnode2\tslots=1\n\nnode3 # comment\n")
print(f"seeds written under {root}")
