#!/usr/bin/env python3
"""Writes an ImageFolder-style data set of random images of different sizes for lrc-run tests:
DIR/cNN/iNNN.EXT, `--classes` folders of `--per-class` images, each side drawn from
[--min, --max], pixels a class-dependent mean plus noise (learnable), RGB or `--gray`.

Usage: make_image_folder.py DIR [--classes 10] [--per-class 2] [--min 20] [--max 48]
       [--format png|jpg] [--gray] [--seed 0]
"""
import argparse
import os

import numpy as np
from PIL import Image


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dir")
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--per-class", type=int, default=2)
    p.add_argument("--min", type=int, default=20)
    p.add_argument("--max", type=int, default=48)
    p.add_argument("--format", choices=["png", "jpg"], default="png")
    p.add_argument("--gray", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    for c in range(a.classes):
        folder = os.path.join(a.dir, f"c{c:02d}")
        os.makedirs(folder, exist_ok=True)
        for i in range(a.per_class):
            h, w = rng.integers(a.min, a.max + 1, size=2)
            shape = (h, w) if a.gray else (h, w, 3)
            mean = 40 + 180 * c / max(1, a.classes - 1)
            pixels = np.clip(rng.normal(mean, 30, size=shape), 0, 255).astype(np.uint8)
            image = Image.fromarray(pixels, "L" if a.gray else "RGB")
            image.save(os.path.join(folder, f"i{i:03d}.{a.format}"), **({"quality": 90} if a.format == "jpg" else {}))


if __name__ == "__main__":
    main()
