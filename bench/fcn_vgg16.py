#!/usr/bin/python3
"""Exports a fully convolutional VGG-16 for the high-resolution benchmark (docs/benchmarks.md
"High resolution"): torchvision's vgg16 features, a global average pool and one linear
layer (512 -> 1000), in training mode at opset 13. Its input is 224x224; the benchmark
compiles it at other sizes with lrc-compile's --input-shape (the global pool makes the
graph independent of the map size).

  /usr/bin/python3 bench/fcn_vgg16.py build/bench/fcn_vgg16_train_op13.onnx
  build/tools/lrc-compile build/bench/fcn_vgg16_train_op13.onnx --input-shape 3,4096,4096 \
      --batch 1 --memory-budget 1.5GiB --explain -o build/bench/fcn4096.plan

Writes OUT.tmp and renames it, so a failed export leaves no file.
"""
import os
import sys

import torch
import torchvision


class FullyConvolutionalVgg16(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torchvision.models.vgg16(weights=None).features
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(512, 1000)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: fcn_vgg16.py OUT.onnx")
    out = sys.argv[1]
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    torch.manual_seed(0)
    model = FullyConvolutionalVgg16().train()
    with torch.no_grad():
        torch.onnx.export(model, torch.randn(1, 3, 224, 224), out + ".tmp", opset_version=13,
                          training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False,
                          input_names=["input"], output_names=["logits"])
    os.replace(out + ".tmp", out)
    print(f"{out}: {os.path.getsize(out) / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
