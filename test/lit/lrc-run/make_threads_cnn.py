"""Writes a small CNN that runs every element-wise kernel the CPU backend splits over threads
(threads.test): Conv -> BatchNormalization (training) -> Relu -> MaxPool -> Conv ->
BatchNormalization -> Relu -> Add (a residual: the pool's output) -> Mul by a trained
per-channel scale (its gradient a sum over images and pixels) -> Dropout -> Pad ->
AveragePool -> Upsample (Resize) -> GlobalAveragePool -> Flatten -> Gemm, on 3x16x16 images,
10 classes, batch 4.

usage: make_threads_cnn.py OUT.onnx
"""
import sys

import numpy as np
from onnx import helper

from small_cnn import constant, save_classifier, weights


def main():
    weight = weights(0)

    def bn(i, channels):
        return [weight(f"bn{i}.scale", [channels], 0.2), weight(f"bn{i}.bias", [channels], 0.1),
                constant(f"bn{i}.mean", np.zeros(channels, np.float32)),
                constant(f"bn{i}.var", np.ones(channels, np.float32))]

    def bn_node(i, x, y):
        return helper.make_node("BatchNormalization", [x, f"bn{i}.scale", f"bn{i}.bias", f"bn{i}.mean", f"bn{i}.var"],
                                [y, f"bn{i}.mean_out", f"bn{i}.var_out"], epsilon=1e-5, momentum=0.9,
                                training_mode=1)

    inits = [
        weight("conv1.w", [8, 3, 3, 3], 0.3), weight("conv1.b", [8], 0.1), *bn(1, 8),
        weight("conv2.w", [8, 8, 3, 3], 0.2), weight("conv2.b", [8], 0.1), *bn(2, 8),
        constant("drop.ratio", 0.2, np.float32),
        constant("drop.training", True),
        constant("pad.pads", [0, 0, 1, 1, 0, 0, 1, 1], np.int64),
        constant("up.roi", [], np.float32),
        constant("up.scales", [1, 1, 2, 2], np.float32),
        weight("gate", [1, 8, 1, 1], 0.5),
        weight("fc.w", [10, 8], 0.3), weight("fc.b", [10], 0.1),
    ]
    nodes = [
        helper.make_node("Conv", ["image", "conv1.w", "conv1.b"], ["c1"], pads=[1, 1, 1, 1]),
        bn_node(1, "c1", "n1"),
        helper.make_node("Relu", ["n1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "conv2.w", "conv2.b"], ["c2"], pads=[1, 1, 1, 1]),
        bn_node(2, "c2", "n2"),
        helper.make_node("Relu", ["n2"], ["r2"]),
        helper.make_node("Add", ["r2", "p1"], ["s"]),
        helper.make_node("Mul", ["s", "gate"], ["m"]),
        helper.make_node("Dropout", ["m", "drop.ratio", "drop.training"], ["d"], seed=5),
        helper.make_node("Pad", ["d", "pad.pads"], ["q"]),
        helper.make_node("AveragePool", ["q"], ["a"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Resize", ["a", "up.roi", "up.scales"], ["u"], mode="linear"),
        helper.make_node("GlobalAveragePool", ["u"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["logits"], transB=1),
    ]
    save_classifier(sys.argv[1], "threads_cnn", nodes, inits, [4, 3, 16, 16])


if __name__ == "__main__":
    main()
