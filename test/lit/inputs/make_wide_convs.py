#!/usr/bin/python3
"""Writes a small net of wide 3x3 convolutions (Winograd's scratch under a budget):

    make_wide_convs.py OUT.onnx

conv3x3 16 -> 256, ReLU, conv3x3 256 -> 256, ReLU (pad 1, stride 1: both oneDNN Winograd's),
a global average pool and a linear layer to 10 classes, exported in training mode (opset 13)
for [2, 16, 8, 8]. The 256-channel convolution's Winograd part of the scratch is over 16 MiB
(its transformed weights alone: 36 x 256 x 256 floats, 9 MiB; its weight gradient's 18 MiB).
"""
import sys

import torch
import torch.nn as nn


def main():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(16, 256, 3, padding=1), nn.ReLU(), nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, 10)).train()
    torch.onnx.export(model, torch.randn(2, 16, 8, 8), sys.argv[1], opset_version=13,
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)


if __name__ == "__main__":
    main()
