#!/usr/bin/python3
"""Writes a small fully convolutional net for tall maps (the plan search's strip limits):

    make_tall_fcn.py OUT.onnx

Six conv3x3 (pad 1) + ReLU layers of 4 channels with a 2x2 max pool after every second one, a
global average pool and a linear layer to 10 classes, exported in training mode (opset 13) for
[1, 3, 64, 16]; compile it at a tall size with --input-shape (its one pipeline then has more
output rows than rows_copy's 64 operands: 8192 rows give 1024).
"""
import sys

import torch
import torch.nn as nn


def main():
    torch.manual_seed(0)
    layers, cin = [], 3
    for i in range(6):
        layers += [nn.Conv2d(cin, 4, 3, padding=1), nn.ReLU()]
        cin = 4
        if i % 2 == 1:
            layers.append(nn.MaxPool2d(2))
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10)).train()
    torch.onnx.export(model, torch.randn(1, 3, 64, 16), sys.argv[1], opset_version=13,
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)


if __name__ == "__main__":
    main()
