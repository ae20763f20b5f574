#!/usr/bin/python3
"""Writes a small net with one squeeze-and-excitation gate (torchvision's form: the mean a
GlobalAveragePool, two 1x1 convolutions, a sigmoid, the map times the gate):

    make_se_net.py OUT.onnx

conv3x3 (3 -> 4 channels, pad 1) + ReLU = y; y * sigmoid(conv1x1(relu(conv1x1(mean(y))))); a
conv3x3 (4 -> 4, pad 1); flatten; a linear layer to 10 classes (no pooling head: the one mean
over H, W is the SE gate's). Exported in training mode (opset 13) for [2, 3, 12, 8].
"""
import sys

import torch
import torch.nn as nn


class SeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(4, 2, 1)
        self.fc2 = nn.Conv2d(2, 4, 1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.head = nn.Linear(4 * 12 * 8, 10)

    def forward(self, x):
        y = torch.relu(self.conv1(x))
        g = torch.sigmoid(self.fc2(torch.relu(self.fc1(self.pool(y)))))
        return self.head(torch.flatten(self.conv2(y * g), 1))


def main():
    torch.manual_seed(0)
    torch.onnx.export(SeNet().train(), torch.randn(2, 3, 12, 8), sys.argv[1], opset_version=13,
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)


if __name__ == "__main__":
    main()
