#!/usr/bin/python3
"""Writes the example CNNs for Fashion-MNIST (1x28x28 images, 10 classes), random weights,
seed 0; run with Debian's python3-torch: /usr/bin/python3 examples/make_fashion_cnn.py

- examples/fashion_cnn_main.onnx: the model the README's main job (scripts/run-example.sh)
  trains under a memory budget. Its first block (two convolutions at 28x28) has no
  BatchNorm: an exact BatchNorm's statistics need its input map whole (a reduction point,
  SPEC.md section 5), so one there would keep the largest maps whole and row plans could not
  make the model much smaller. With BatchNorm in the second block the plan search fits it in
  60% of the layerwise plan's memory (docs/benchmarks.md "Fashion-MNIST main job").
- examples/fashion_cnn.onnx: a smaller CNN with a BatchNorm after every early convolution;
  the main job's model until issue 16, now a fixture of the runtime's tests (they name its
  buffers)."""
import os
import torch
import torch.nn as nn


def fashion_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
    )


def fashion_cnn_main():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
    )


class FashionCNN(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.features = features()
        self.classifier = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def export(features, name):
    torch.manual_seed(0)
    model = FashionCNN(features).train()
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    torch.onnx.export(model, torch.randn(32, 1, 28, 28), out, opset_version=13,
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False,
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    print("wrote", out)


def main():
    export(fashion_cnn, "fashion_cnn.onnx")
    export(fashion_cnn_main, "fashion_cnn_main.onnx")


if __name__ == "__main__":
    main()
