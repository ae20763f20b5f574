#!/usr/bin/env python3
"""lrc's data transforms against torchvision's functional ops on tensors (float64).

Part 1, the pixel operations (runtime/data/ImageOps.h) on random float images: resize
(shorter side, bilinear, antialias=False), resized_crop, center_crop (with padding), crop
(zeros outside), hflip, normalize.

Part 2, whole Transforms (runtime/data/Transforms.h) on samples of data sets written here
(a folder of PNG files of different sizes, npy arrays): the evaluation recipe must equal
Resize -> CenterCrop -> Normalize; a random-resized-crop sample must equal
F.resized_crop of a window RandomResizedCrop may choose (found by trying every window), and
for an image no try can fit, the very window torchvision's get_params falls back to; flip
samples must be the image or its mirror, both seen.

Part 3, masks (segmentation label maps): the mask operations against torchvision's with
InterpolationMode.NEAREST (resize, resized_crop) and a crop that pads with the ignore index
(F.pad with fill, then F.crop, as the segmentation reference pads targets with 255); and a
folder of images with masks of various sizes through random-resized-crop,flip and
resize,center-crop: each mask must be the nearest-resized crop of the very window (and flip)
found for its image, padded with the ignore index.

Usage: check_transforms.py --tool build/test/transforms/transform_tool --work DIR
"""
import argparse
import os
import shutil
import subprocess
import sys

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image
from torchvision.transforms import InterpolationMode

TOL = 1e-5  # float32 against float64, values of order 1
BILINEAR = InterpolationMode.BILINEAR
NEAREST = InterpolationMode.NEAREST
failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def tool(args, work):
    out = os.path.join(work, "out.f32")
    run = subprocess.run([ARGS.tool] + [str(a) for a in args] + [], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit("transform_tool failed: " + run.stderr.strip())
    c, h, w = (int(v) for v in run.stdout.split())
    return torch.from_numpy(np.fromfile(out, dtype=np.float32).reshape(c, h, w)).double()


def op(image32, name, *args):
    """transform_tool's op NAME on a float32 CHW array; the result as float64."""
    path = os.path.join(ARGS.work, "in.f32")
    image32.tofile(path)
    c, h, w = image32.shape
    return tool(["op", path, c, h, w, os.path.join(ARGS.work, "out.f32"), name] + list(args), ARGS.work)


def close(got, want, what):
    same_shape = tuple(got.shape) == tuple(want.shape)
    error = (got - want).abs().max().item() if same_shape and got.numel() else 0.0
    check(same_shape and error < TOL,
          f"{what}: shape {tuple(got.shape)} vs torchvision {tuple(want.shape)}, max error {error:.2e}")


def kernels():
    rng = np.random.default_rng(0)
    for shape in [(3, 7, 9), (1, 5, 12), (3, 13, 6), (2, 1, 4), (3, 16, 16)]:
        x32 = rng.random(shape, dtype=np.float32)
        x = torch.from_numpy(x32).double()
        c, h, w = shape
        for size in [1, 3, 5, 8, 11, 20]:
            close(op(x32, "resize", size), F.resize(x, size, BILINEAR, antialias=False), f"resize {shape} to {size}")
        for top, left, ch, cw, oh, ow in [(0, 0, h, w, 4, 4), (1, 2, h - 1, w - 2, 9, 5), (0, 1, 1, w - 1, 3, 7),
                                          (h - 1, w - 1, 1, 1, 2, 2), (0, 0, h, w, 2 * h + 1, w)]:
            if ch < 1 or cw < 1:
                continue
            close(op(x32, "resized-crop", top, left, ch, cw, oh, ow),
                  F.resized_crop(x, top, left, ch, cw, [oh, ow], BILINEAR, antialias=False),
                  f"resized_crop {shape} ({top},{left},{ch},{cw}) to {oh}x{ow}")
        # Odd and even margins (Python's round halves to even), crops larger than the image
        # (zero padding), and one side of each.
        for ch, cw in [(4, 4), (h - 1, w - 3), (h, w), (h + 3, w + 2), (h + 2, max(1, w - 1)), (1, w + 5), (h - 3, w)]:
            if ch < 1 or cw < 1:
                continue
            close(op(x32, "center-crop", ch, cw), F.center_crop(x, [ch, cw]), f"center_crop {shape} to {ch}x{cw}")
        for top, left, ch, cw in [(-2, -3, 5, 6), (1, 2, h + 4, w + 1), (-1, w - 2, 3, 6), (h, 0, 2, 2)]:
            close(op(x32, "crop", top, left, ch, cw), F.crop(x, top, left, ch, cw),
                  f"crop {shape} ({top},{left},{ch},{cw})")
        close(op(x32, "flip"), F.hflip(x), f"hflip {shape}")
        mean = [0.485, 0.456, 0.406, 0.5][:c]
        std = [0.229, 0.224, 0.225, 0.3][:c]
        close(op(x32, "normalize", ",".join(map(str, mean)), ",".join(map(str, std))),
              F.normalize(x, mean, std), f"normalize {shape}")


# ---- whole transforms on data sets ----

def sample(spec, shape, classes, steps, normalization, seed, epoch, index):
    mean, std = (",".join(map(str, v)) for v in normalization) if normalization else ("-", "-")
    return tool(["sample", spec, *shape, classes, steps or "-", mean, std, seed, epoch, index,
                 os.path.join(ARGS.work, "out.f32")], ARGS.work)


def unnormalize(x, normalization):
    if not normalization:
        return x
    mean, std = (torch.tensor(v, dtype=torch.float64).view(-1, 1, 1) for v in normalization)
    return x * std + mean


def windows_matching(source, got, shape, flips):
    """Every (top, left, h, w, flipped) whose F.resized_crop (then hflip) is `got`: the crops of
    one size are resized as one batch (F.resized_crop is F.crop then F.resize)."""
    _, H, W = source.shape
    found = []
    for h in range(1, H + 1):
        for w in range(1, W + 1):
            corners = [(top, left) for top in range(H - h + 1) for left in range(W - w + 1)]
            crops = torch.stack([F.crop(source, top, left, h, w) for top, left in corners])
            resized = F.resize(crops, list(shape[1:]), BILINEAR, antialias=False)
            for flipped in flips:
                target = F.hflip(got) if flipped else got  # hflip(x) == got  <=>  x == hflip(got)
                errors = (resized - target).abs().amax(dim=(1, 2, 3))
                found += [(*corners[k], h, w, flipped) for k in torch.nonzero(errors < TOL).flatten().tolist()]
    return found


def data_sets():
    rng = np.random.default_rng(1)
    folder = os.path.join(ARGS.work, "folder")
    # Indices follow the class folders' and the files' name order.
    sizes = {"a/0.png": (9, 7), "a/1.png": (5, 12), "b/2.png": (6, 6), "b/3.png": (1, 40), "b/4.png": (40, 1)}
    images = []
    for name, (h, w) in sizes.items():
        pixels = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        os.makedirs(os.path.dirname(os.path.join(folder, name)), exist_ok=True)
        Image.fromarray(pixels, "RGB").save(os.path.join(folder, name))
        images.append(torch.from_numpy(pixels).permute(2, 0, 1).double() / 255)
    folder_spec = "folder:" + folder
    imagenet = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])

    # The evaluation recipe, default and explicit resize sizes, square and other plans.
    # The default size is int(min(H, W) * 256 / 224): 8 for 7.
    for plan, steps, size in [((3, 7, 7), "resize,center-crop", 8), ((3, 9, 7), "resize,center-crop", 8),
                              ((3, 6, 4), "resize:9,center-crop", 9), ((3, 8, 8), "center-crop", None)]:
        for index, image in enumerate(images):
            got = sample(folder_spec, plan, 2, steps, imagenet, 0, 0, index)
            x = F.resize(image, size, BILINEAR, antialias=False) if size else image
            want = F.normalize(F.center_crop(x, list(plan[1:])), *imagenet)
            close(got, want, f"{steps} + normalize, plan {plan}, image {index} {tuple(image.shape)}")

    # random-resized-crop: some window RandomResizedCrop may choose, varying with the epoch.
    plan = (3, 4, 5)
    seen = set()
    for index in [0, 1, 2]:
        for epoch in [0, 1, 2]:
            got = sample(folder_spec, plan, 2, "random-resized-crop", None, 5, epoch, index)
            found = windows_matching(images[index], got, plan, [False])
            check(len(found) > 0, f"random-resized-crop image {index} epoch {epoch}: window {found[:1]}")
            seen.update((index, f[:4]) for f in found[:1])
    check(len(seen) >= 7, f"random-resized-crop: {len(seen)} different windows in 9 samples")
    # Images no try can fit: torchvision's own fallback window.
    for index in [3, 4]:
        got = sample(folder_spec, plan, 2, "random-resized-crop", None, 5, 0, index)
        want = T.RandomResizedCrop.get_params(images[index], scale=[0.08, 1.0], ratio=[3 / 4, 4 / 3])
        found = windows_matching(images[index], got, plan, [False])
        check(tuple(want) in [f[:4] for f in found],
              f"random-resized-crop fallback, image {index} {tuple(images[index].shape)}: "
              f"torchvision {tuple(want)}, lrc {found}")

    # random-resized-crop,flip + normalize: mirrored about half the time.
    flips = []
    for index in range(3):
        for epoch in range(4):
            got = unnormalize(sample(folder_spec, plan, 2, "random-resized-crop,flip", imagenet, 9, epoch, index),
                              imagenet)
            found = windows_matching(images[index], got, plan, [False, True])
            check(len(found) > 0, f"random-resized-crop,flip + normalize image {index} epoch {epoch}: {found[:1]}")
            flips.extend(f[4] for f in found[:1])
    check(True in flips and False in flips, f"flip: {sum(flips)} of {len(flips)} samples mirrored")

    # npy data: uint8 of the plan's size with flip only (no resize), and of another size.
    x = rng.integers(0, 256, size=(3, 3, 6, 4), dtype=np.uint8)
    y = np.array([0, 1, 1], dtype=np.int64)
    np.save(os.path.join(ARGS.work, "x.npy"), x)
    np.save(os.path.join(ARGS.work, "y.npy"), y)
    npy_spec = "npy:" + os.path.join(ARGS.work, "x.npy") + "," + os.path.join(ARGS.work, "y.npy")
    mirrored = 0
    for index in range(3):
        for epoch in range(3):
            source = torch.from_numpy(x[index]).double() / 255
            got = unnormalize(sample(npy_spec, (3, 6, 4), 2, "flip", imagenet, 2, epoch, index), imagenet)
            straight, flipped = ((got - v).abs().max().item() < TOL for v in (source, F.hflip(source)))
            check(straight or flipped, f"npy flip + normalize, sample {index} epoch {epoch}")
            mirrored += flipped
    check(0 < mirrored < 9, f"npy flip: {mirrored} of 9 samples mirrored")
    for index in range(3):
        got = sample(npy_spec, (3, 3, 3), 2, "random-resized-crop", None, 4, 0, index)
        source = torch.from_numpy(x[index]).double() / 255
        found = windows_matching(source, got, (3, 3, 3), [False])
        check(len(found) > 0, f"npy 3x6x4 random-resized-crop to 3x3x3, sample {index}: {found[:1]}")


def same_labels(got, want, what):
    same_shape = tuple(got.shape) == tuple(want.shape)
    wrong = int((got != want).sum().item()) if same_shape else -1
    check(same_shape and wrong == 0,
          f"{what}: shape {tuple(got.shape)} vs torchvision {tuple(want.shape)}, {wrong} labels differ")


def padded_crop(x, top, left, h, w, fill):
    """F.crop with `fill` outside the image: F.pad by enough on every side, then F.crop."""
    p = max(h, w) + abs(top) + abs(left)
    return F.crop(F.pad(x, [p, p, p, p], fill=fill), top + p, left + p, h, w)


def mask_kernels():
    rng = np.random.default_rng(2)
    for shape in [(1, 7, 9), (1, 5, 12), (1, 13, 6), (1, 1, 4), (1, 16, 16)]:
        m = rng.integers(0, 21, size=shape).astype(np.float32)
        m[rng.random(shape) < 0.1] = 255
        x = torch.from_numpy(m).double()
        _, h, w = shape
        for size in [1, 3, 5, 8, 11, 20, 2 * min(h, w)]:
            same_labels(op(m, "resize-nearest", size), F.resize(x, size, NEAREST), f"mask resize {shape} to {size}")
        for top, left, ch, cw, oh, ow in [(0, 0, h, w, 4, 4), (1, 2, h - 1, w - 2, 9, 5), (0, 1, 1, w - 1, 3, 7),
                                          (h - 1, w - 1, 1, 1, 2, 2), (0, 0, h, w, 2 * h, 2 * w), (0, 0, h, w, 3 * h, w)]:
            if ch < 1 or cw < 1:
                continue
            same_labels(op(m, "resized-crop-nearest", top, left, ch, cw, oh, ow),
                        F.resized_crop(x, top, left, ch, cw, [oh, ow], NEAREST),
                        f"mask resized_crop {shape} ({top},{left},{ch},{cw}) to {oh}x{ow}")
        for top, left, ch, cw in [(-2, -3, 5, 6), (1, 2, h + 4, w + 1), (-1, w - 2, 3, 6), (h, 0, 2, 2), (0, 0, h, w)]:
            same_labels(op(m, "crop-labels", top, left, ch, cw, 255), padded_crop(x, top, left, ch, cw, 255),
                        f"mask crop {shape} ({top},{left},{ch},{cw}) filled with 255")


def sample_mask(spec, shape, classes, ignore, steps, seed, epoch, index):
    mask_path = os.path.join(ARGS.work, "mask.f32")
    image = tool(["sample-mask", spec, *shape, classes, ignore, steps, seed, epoch, index,
                  os.path.join(ARGS.work, "out.f32"), mask_path], ARGS.work)
    return image, torch.from_numpy(np.fromfile(mask_path, dtype=np.float32).reshape(1, *shape[1:])).double()


def mask_data_sets():
    rng = np.random.default_rng(3)
    folder = os.path.join(ARGS.work, "seg")
    os.makedirs(os.path.join(folder, "images"))
    os.makedirs(os.path.join(folder, "masks"))
    images, masks = [], []
    for k, (h, w) in enumerate([(9, 7), (5, 12), (6, 6), (3, 4)]):
        pixels = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        ids = rng.integers(0, 3, size=(h, w), dtype=np.uint8)
        ids[rng.random((h, w)) < 0.15] = 255
        Image.fromarray(pixels, "RGB").save(os.path.join(folder, "images", f"{k}.png"))
        Image.fromarray(ids, "L").save(os.path.join(folder, "masks", f"{k}.png"))
        images.append(torch.from_numpy(pixels).permute(2, 0, 1).double() / 255)
        masks.append(torch.from_numpy(ids).double()[None])
    spec = "folder:" + folder
    plan = (3, 4, 5)
    flips = []
    for index in range(3):
        for epoch in range(3):
            got, got_mask = sample_mask(spec, plan, 3, 255, "random-resized-crop,flip", 7, epoch, index)
            found = windows_matching(images[index], got, plan, [False, True])
            wants = [F.resized_crop(masks[index], t, l, h, w, list(plan[1:]), NEAREST) for t, l, h, w, _ in found]
            wants = [F.hflip(m) if f[4] else m for m, f in zip(wants, found)]
            check(any(torch.equal(got_mask, m) for m in wants),
                  f"mask random-resized-crop,flip image {index} epoch {epoch}: the image's window {found[:1]}")
            flips.extend(f[4] for f in found[:1])
    check(True in flips and False in flips, f"mask flip: {sum(flips)} of {len(flips)} samples mirrored")
    # resize then center-crop, the plan larger than some resized images: padded with the ignore index.
    for plan, size in [((3, 4, 5), 4), ((3, 6, 6), 3)]:
        for index in range(4):
            got, got_mask = sample_mask(spec, plan, 3, 255, f"resize:{size},center-crop", 0, 0, index)
            close(got, F.center_crop(F.resize(images[index], size, BILINEAR, antialias=False), list(plan[1:])),
                  f"seg image resize:{size},center-crop plan {plan} image {index}")
            shifted = F.center_crop(F.resize(masks[index], size, NEAREST) + 1, list(plan[1:]))  # pads with 0
            same_labels(got_mask, torch.where(shifted == 0, torch.full_like(shifted, 255), shifted - 1),
                        f"mask resize:{size},center-crop plan {plan} image {index}")


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tool", required=True)
    parser.add_argument("--work", required=True)
    ARGS = parser.parse_args()
    shutil.rmtree(ARGS.work, ignore_errors=True)
    os.makedirs(ARGS.work)
    torch.set_num_threads(1)
    kernels()
    data_sets()
    mask_kernels()
    mask_data_sets()
    if failures:
        sys.exit(f"{len(failures)} check(s) failed: " + "; ".join(failures[:5]))
    print("all transforms match torchvision")


if __name__ == "__main__":
    main()
