#!/usr/bin/python3
"""Writes examples/fashion_cnn.onnx: the small CNN the README's main job trains on
Fashion-MNIST (1x28x28 images, 10 classes). Random weights, seed 0; run with Debian's
python3-torch: /usr/bin/python3 examples/make_fashion_cnn.py"""
import os
import torch
import torch.nn as nn


class FashionCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
        )
        self.classifier = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def main():
    torch.manual_seed(0)
    model = FashionCNN().train()
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fashion_cnn.onnx")
    torch.onnx.export(model, torch.randn(32, 1, 28, 28), out, opset_version=13,
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False,
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    print("wrote", out)


if __name__ == "__main__":
    main()
