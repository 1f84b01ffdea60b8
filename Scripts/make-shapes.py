#!/usr/bin/env python3
"""Generates "shapes10", a 10-class ImageNet-layout photo-like data set for end-to-end runs of the real data path.

    python3 Scripts/make-shapes.py DEST [--train-per-class 500] [--val-per-class 100] [--seed 1]

DEST/train/<class>/<n>.JPEG and DEST/val/<class>/<n>.JPEG: one filled shape per image (circle, ring, square,
diamond, triangle, star, plus, ex, horizontal bars, vertical bars) of a random colour, size, position and
rotation (squares and diamonds, plus and ex stay within ±12° of their pose so the classes stay distinct), on a
random two-colour gradient with noise and a slight blur, inside the central square (which prepare's centre
crop keeps); 300-500 pixels a side, JPEG quality 75-95, and every
tenth image a PNG (RGB or grey). Every class is unchanged by a horizontal flip, as the paper's augmentation
assumes. Needs only Pillow; the same seed gives the same files.
"""

import argparse
import math
import os
import random

from PIL import Image, ImageDraw, ImageFilter

CLASSES = ["bars_h", "bars_v", "circle", "diamond", "ex", "plus", "ring", "square", "star", "triangle"]


def polygon(cx, cy, radius, sides, angle):
    return [
        (cx + radius * math.cos(angle + 2 * math.pi * k / sides), cy + radius * math.sin(angle + 2 * math.pi * k / sides))
        for k in range(sides)
    ]


def star(cx, cy, radius, angle):
    points = []
    for k in range(10):
        r = radius if k % 2 == 0 else radius * 0.42
        a = angle + math.pi * k / 5
        points.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return points


def rotated_rectangle(cx, cy, half_w, half_h, angle):
    c, s = math.cos(angle), math.sin(angle)
    corners = [(-half_w, -half_h), (half_w, -half_h), (half_w, half_h), (-half_w, half_h)]
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in corners]


def draw_shape(draw, name, cx, cy, r, colour, background, rng):
    tilt = math.radians(rng.uniform(-12, 12))
    if name == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    elif name == "ring":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
        inner = r * rng.uniform(0.45, 0.65)
        draw.ellipse([cx - inner, cy - inner, cx + inner, cy + inner], fill=background)
    elif name == "square":
        draw.polygon(rotated_rectangle(cx, cy, r * 0.8, r * 0.8, tilt), fill=colour)
    elif name == "diamond":
        draw.polygon(rotated_rectangle(cx, cy, r * 0.8, r * 0.8, math.pi / 4 + tilt), fill=colour)
    elif name == "triangle":
        draw.polygon(polygon(cx, cy, r, 3, -math.pi / 2 + tilt), fill=colour)
    elif name == "star":
        draw.polygon(star(cx, cy, r, -math.pi / 2 + tilt), fill=colour)
    elif name in ("plus", "ex"):
        angle = tilt + (math.pi / 4 if name == "ex" else 0)
        width = r * rng.uniform(0.22, 0.32)
        draw.polygon(rotated_rectangle(cx, cy, r, width, angle), fill=colour)
        draw.polygon(rotated_rectangle(cx, cy, width, r, angle), fill=colour)
    elif name in ("bars_h", "bars_v"):
        angle = tilt + (math.pi / 2 if name == "bars_v" else 0)
        bar = r * rng.uniform(0.14, 0.2)
        for k in (-1, 0, 1):
            ox, oy = -math.sin(angle) * k * bar * 2.6, math.cos(angle) * k * bar * 2.6
            draw.polygon(rotated_rectangle(cx + ox, cy + oy, r, bar, angle), fill=colour)


def random_colour(rng):
    return tuple(rng.randrange(256) for _ in range(3))


def contrast(a, b):
    return sum(abs(x - y) for x, y in zip(a, b))


def make_image(name, rng):
    width, height = rng.randrange(300, 501), rng.randrange(300, 501)
    top, bottom = random_colour(rng), random_colour(rng)
    gradient = Image.linear_gradient("L").resize((width, height))
    image = Image.composite(Image.new("RGB", (width, height), bottom), Image.new("RGB", (width, height), top), gradient)
    noise = Image.effect_noise((width, height), rng.uniform(10, 40)).convert("RGB")
    image = Image.blend(image, noise, rng.uniform(0.05, 0.2))
    background = image.getpixel((width // 2, height // 2))
    colour = random_colour(rng)
    while contrast(colour, background) < 200:
        colour = random_colour(rng)
    short = min(width, height)
    r = short * rng.uniform(0.18, 0.36)
    # Inside the central square, which the 256x256 centre crop keeps.
    cx = rng.uniform((width - short) / 2 + r, (width + short) / 2 - r)
    cy = rng.uniform((height - short) / 2 + r, (height + short) / 2 - r)
    draw_shape(ImageDraw.Draw(image), name, cx, cy, r, colour, background, rng)
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.5)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest")
    parser.add_argument("--train-per-class", type=int, default=500)
    parser.add_argument("--val-per-class", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    count = 0
    for split, per_class in (("train", args.train_per_class), ("val", args.val_per_class)):
        for label, name in enumerate(CLASSES):
            folder = os.path.join(args.dest, split, name)
            os.makedirs(folder, exist_ok=True)
            for n in range(per_class):
                rng = random.Random(f"{args.seed}/{split}/{name}/{n}")
                image = make_image(name, rng)
                if n % 10 == 9:
                    if n % 20 == 19:
                        image = image.convert("L")
                    image.save(os.path.join(folder, f"{n:05d}.png"))
                else:
                    image.save(os.path.join(folder, f"{n:05d}.JPEG"), quality=rng.randrange(75, 96))
                count += 1
    print(f"{args.dest}: {count} images, {len(CLASSES)} classes ({args.train_per_class} + {args.val_per_class} per class)")


if __name__ == "__main__":
    main()
