#!/usr/bin/env python3
"""Checks that `alexnet-dist prepare` stores what torchvision's ImageFolder pipeline computes.

For every image of SOURCE (class folders), Pillow's `Image.open(f).convert("RGB")`, torchvision's
`Resize(256)` (Pillow's anti-aliased bilinear, long side truncated) and `CenterCrop(256)` (offsets rounded
half to even) are compared, byte for byte, with the record `alexnet-dist prepare --raw` stored.

    pip install pillow numpy
    python3 Scripts/compare-pil.py SOURCE [--tool .build/release/alexnet-dist]

Prints how many images were identical and the largest difference; exits 1 if any differ.
"""
import argparse, json, os, subprocess, sys, tempfile

import numpy as np
from PIL import Image


def torchvision_like(path, size):
    im = Image.open(path).convert("RGB")
    w, h = im.size
    nw, nh = (size, int(size * h / w)) if w <= h else (int(size * w / h), size)
    im = im.resize((nw, nh), Image.BILINEAR)
    left, top = int(round((nw - size) / 2)), int(round((nh - size) / 2))
    return np.asarray(im.crop((left, top, left + size, top + size)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("source")
    parser.add_argument("--tool", default=".build/release/alexnet-dist")
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([args.tool, "prepare", args.source, out, "--raw", "--size", str(args.size),
                        "--on-bad-image", "fail"], check=True, stdout=subprocess.DEVNULL)
        meta = json.load(open(os.path.join(out, "meta.json")))
        classes = meta["classes"]
        files = [os.path.join(args.source, c, f) for c in classes
                 for f in sorted(os.listdir(os.path.join(args.source, c)))
                 if f.lower().rsplit(".", 1)[-1] in ("jpg", "jpeg", "png")]
        n, identical, largest = 0, 0, 0
        for shard in meta["splits"]["train"]:
            index = np.fromfile(os.path.join(out, shard["name"] + ".index"), dtype="<u8").reshape(-1, 3)
            data = np.fromfile(os.path.join(out, shard["name"] + ".data"), dtype=np.uint8)
            for entry in index:
                offset, size = int(entry[0]), int(entry[1] & 0xFFFFFFFF)
                ours = data[offset:offset + size].reshape(args.size, args.size, 3)
                difference = int(np.abs(torchvision_like(files[n], args.size).astype(int) - ours).max())
                identical += difference == 0
                largest = max(largest, difference)
                n += 1
        print(f"{n} images: {identical} identical to Pillow/torchvision, largest difference {largest} grey levels")
        sys.exit(0 if identical == n else 1)


if __name__ == "__main__":
    main()
