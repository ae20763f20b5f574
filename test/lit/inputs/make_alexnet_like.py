#!/usr/bin/python3
"""Writes a narrow AlexNet (torchvision's layers, a quarter of its channels, no classifier but
one Linear) for the plan search's segment cuts (compiler/PlanSearch.cpp, cutsSegments):

    make_alexnet_like.py OUT.onnx

conv 11x11 stride 4 (16) + ReLU, max pool 3/2, conv 5x5 (48) + ReLU, max pool 3/2, three
conv 3x3 (96, 64, 64) + ReLU, max pool 3/2, Linear to 10. At 224x224 the stem has 55
rows, the tail after the second pool 13 and the output 6: one strip count cannot suit both
(cut point 2, the second pool, is where the least memory cuts). Exported in training mode
(opset 13) for [8, 3, 224, 224].
"""
import sys

import torch
import torch.nn as nn


def main():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 16, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(16, 48, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(48, 96, 3, padding=1), nn.ReLU(), nn.Conv2d(96, 64, 3, padding=1), nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Flatten(), nn.Linear(64 * 6 * 6, 10)).train()
    torch.onnx.export(model, torch.randn(8, 3, 224, 224), sys.argv[1], opset_version=13,
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False,
                      input_names=["input"], output_names=["logits"])


if __name__ == "__main__":
    main()
