#!/usr/bin/python3
"""Counts the CUDA backend's launches (kernels and cuBLAS calls) per training step of a plan,
from its text (lrc-compile --emit plan), following runtime/cuda's rules: a convolution with
an im2col scratch runs its images in chunks of as many as the scratch holds (forward and
input gradient: one im2col or col2im and one batched SGEMM per chunk; weight gradient: one
im2col per chunk and one SGEMM per image), a direct 1x1 convolution one batched SGEMM
(weight gradient: one per image), gradient results one memset each, every other step one
launch (BatchNorm's reductions: two or three). A count, not a time: what it is for is the
launch overhead a GPU pays per step, to be measured there (scripts/gpu-check.sh).

  build/tools/lrc-compile MODEL.onnx --batch 32 --strategy 2ps --strips 8 --device cuda --emit plan -o P.txt
  /usr/bin/python3 bench/cuda_launches.py P.txt [P2.txt ...]
"""
import re
import sys

CONVS = ("conv2d", "conv2d_grad_input", "conv2d_grad_weight")
ZEROED = ("conv2d_grad_input", "conv2d_grad_weight", "channel_sum", "relu_grad", "maxpool_grad", "avgpool_grad",
          "batchnorm_grad", "dropout_grad", "rows_copy", "rows_sum")


def count(path):
    text = open(path).read()
    shapes, sizes = {}, {}
    for m in re.finditer(r"^  #(\d+) .*? : \w+\[([\d,]*)\].*? size (\d+)", text, re.M):
        shapes[int(m.group(1))] = [int(x) for x in m.group(2).split(",") if x]
        sizes[int(m.group(1))] = int(m.group(3))
    train = text[text.index("\ntrain ("):text.index("\neval (")]
    total = conv = 0
    for m in re.finditer(r"^  (.*?)= (\w+)\(([^)]*)\) (\{[^}]*\})?( scratch #(\d+))?", train, re.M):
        kernel, attrs = m.group(2), m.group(4) or ""
        ins = [int(x) for x in re.findall(r"#(\d+)", m.group(3))]
        n = 1
        if kernel in CONVS:
            N = shapes[ins[0]][0]
            if not m.group(6):  # direct: no scratch
                n = N if kernel == "conv2d_grad_weight" else 1
            else:
                out = [int(x) for x in re.findall(r"#(\d+)", m.group(1))]
                dy = shapes[out[0]] if kernel == "conv2d" else shapes[ins[0]]
                rows = re.search(r"rows=\[(\d+),(\d+)\]", attrs)
                r = int(rows.group(2)) - int(rows.group(1)) if rows else dy[2]
                if kernel == "conv2d_grad_weight":
                    kh, kw = map(int, re.search(r"kernel=\[(\d+),(\d+)\]", attrs).groups())
                    C = shapes[ins[1]][1]
                else:
                    w = shapes[ins[1]]
                    kh, kw, C = w[2], w[3], w[1]
                group = int(re.search(r"group=(\d+)", attrs).group(1))
                per_image = 4 * C * kh * kw * r * dy[3] // (group if kernel == "conv2d_grad_weight" else 1)
                chunk = max(1, min(N, sizes[int(m.group(6))] // per_image))
                chunks = -(-N // chunk)
                n = group * (chunks + N if kernel == "conv2d_grad_weight" else 2 * chunks)
            n += 1 if kernel == "conv2d" and len(ins) == 3 else 0
            conv += n
        elif kernel in ("batchnorm", "batchnorm_grad"):
            n = (3 if "training=1" in attrs else 2) + (2 if kernel == "batchnorm_grad" else 0)
        n += 1 if kernel in ZEROED else 0
        total += n
    return total, conv


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for path in sys.argv[1:]:
        total, conv = count(path)
        print(f"{path}: {total} launches per training step, {conv} of them convolutions'")


if __name__ == "__main__":
    main()
