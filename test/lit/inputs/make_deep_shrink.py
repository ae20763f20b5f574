#!/usr/bin/python3
"""Writes a small SqueezeNet-like net whose one row pipeline shrinks its map 9x (2PS strips
balanced at the input side, passes/PartitionRows.cpp):

    make_deep_shrink.py OUT.onnx

conv3x3 stride 2 (32 channels) + ReLU, max pool 3x3 stride 2 (ceil), two fire modules
(squeeze 1x1 to 4, ReLU, expand 1x1 and 3x3 pad 1 to 8 each, concat, ReLU), max pool 3x3
stride 2 (ceil), one fire module, conv1x1 to 10, a global average pool: at 64x64 the
stem has 31 rows and the pipeline's output 7. Exported in training mode (opset 13) for
[2, 3, 64, 64].
"""
import sys

import torch
import torch.nn as nn


class Fire(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.squeeze = nn.Conv2d(cin, 4, 1)
        self.expand1 = nn.Conv2d(4, 8, 1)
        self.expand3 = nn.Conv2d(4, 8, 3, padding=1)

    def forward(self, x):
        s = torch.relu(self.squeeze(x))
        return torch.relu(torch.cat([self.expand1(s), self.expand3(s)], 1))


def main():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 32, 3, stride=2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True),
                          Fire(32), Fire(16), nn.MaxPool2d(3, 2, ceil_mode=True), Fire(16),
                          nn.Conv2d(16, 10, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()).train()
    # He initialization and positive biases: every ReLU passes gradient (PyTorch's default draw
    # leaves the last squeeze dead, and nothing before it would train).
    for conv in model.modules():
        if isinstance(conv, nn.Conv2d):
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.uniform_(conv.bias, 0.0, 0.1)
    torch.onnx.export(model, torch.randn(2, 3, 64, 64), sys.argv[1], opset_version=13,
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)


if __name__ == "__main__":
    main()
