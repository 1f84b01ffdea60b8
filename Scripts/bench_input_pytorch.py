#!/usr/bin/env python3
"""The PyTorch side of `alexnet-dist bench input`: the same prepared images, decoded and augmented the way
torchvision's ImageFolder + transforms do it (PIL open and convert("RGB"), RandomCrop(227),
RandomHorizontalFlip, ToTensor, the AlexNet PCA lighting of the PyTorch ImageNet examples, Normalize),
batched by torch.utils.data.DataLoader with `--workers` worker processes (0: in the main process, one
thread's worth).

The shard records of DIR's train split are written out once as JPEG files in class folders (what an
ImageFolder reads), then timed. torchvision itself is not imported: its PyPI wheel is built against the
CUDA build of torch, which does not load here; these transforms are what torchvision's do on PIL images.

    PY=$(Scripts/pytorch-venv.sh | tail -n1); "$PY" -m pip install pillow numpy
    "$PY" Scripts/bench_input_pytorch.py DIR [--crop 227] [--batch-size 128] [--batches 5] [--workers 0]
"""
import argparse, json, os, tempfile, time

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset


class Folder(Dataset):
    def __init__(self, root, crop, mean, std, eigval, eigvec):
        self.items = [(os.path.join(root, c, f), int(c)) for c in sorted(os.listdir(root))
                      for f in sorted(os.listdir(os.path.join(root, c)))]
        self.crop = crop
        self.mean = torch.tensor(mean).view(3, 1, 1)
        self.std = torch.tensor(std).view(3, 1, 1)
        self.eigval = torch.tensor(eigval)
        self.eigvec = torch.tensor(eigvec)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        path, label = self.items[i]
        im = Image.open(path).convert("RGB")                                  # ImageFolder's loader
        w, h = im.size
        x, y = np.random.randint(0, w - self.crop + 1), np.random.randint(0, h - self.crop + 1)
        im = im.crop((x, y, x + self.crop, y + self.crop))                    # RandomCrop
        if np.random.rand() < 0.5:
            im = im.transpose(Image.FLIP_LEFT_RIGHT)                          # RandomHorizontalFlip
        t = torch.from_numpy(np.asarray(im, dtype=np.uint8).copy()).permute(2, 0, 1).float().div(255)  # ToTensor
        alpha = torch.randn(3) * 0.1                                          # Lighting(0.1, eigval, eigvec)
        t = t + (self.eigvec * alpha * self.eigval).sum(1).view(3, 1, 1)
        return (t - self.mean) / self.std, label                              # Normalize


def main():
    p = argparse.ArgumentParser()
    p.add_argument("shards")
    p.add_argument("--crop", type=int, default=227)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--batches", type=int, default=5)
    p.add_argument("--workers", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(1)
    meta = json.load(open(os.path.join(a.shards, "meta.json")))
    with tempfile.TemporaryDirectory() as root:
        for shard in meta["splits"]["train"]:
            index = np.fromfile(os.path.join(a.shards, shard["name"] + ".index"), dtype="<u8").reshape(-1, 3)
            data = open(os.path.join(a.shards, shard["name"] + ".data"), "rb").read()
            for n, entry in enumerate(index):
                offset, size, label = int(entry[0]), int(entry[1] & 0xFFFFFFFF), int(entry[1] >> 32)
                os.makedirs(os.path.join(root, str(label)), exist_ok=True)
                with open(os.path.join(root, str(label), f"{shard['name']}-{n}.jpg"), "wb") as f:
                    f.write(data[offset:offset + size])
        ds = Folder(root, a.crop, meta["mean"], meta["std"], meta["eigenvalues"], meta["eigenvectors"])
        loader = DataLoader(ds, batch_size=a.batch_size, shuffle=True, num_workers=a.workers, drop_last=True)
        rates, it = [], iter(loader)
        next(it)  # warm-up
        for _ in range(a.batches):
            start = time.perf_counter()
            try:
                next(it)
            except StopIteration:
                it = iter(loader)
                next(it)
            rates.append(a.batch_size / (time.perf_counter() - start))
        rates.sort()
        print(f"pytorch DataLoader, {a.workers} workers: {rates[len(rates) // 2]:.0f} images/s median of {len(rates)} "
              f"batches of {a.batch_size} ({rates[0]:.0f}–{rates[-1]:.0f})")


if __name__ == "__main__":
    main()
