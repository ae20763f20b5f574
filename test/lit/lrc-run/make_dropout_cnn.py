"""Writes a small CNN with every kind of state a checkpoint must keep (resume.test):
Conv -> BatchNormalization (training: running statistics) -> Relu -> Dropout (training:
masks drawn from the seed and the step) -> Flatten -> Gemm, on 1x8x8 images, 10 classes.

usage: make_dropout_cnn.py OUT.onnx
"""
import sys

import numpy as np
from onnx import helper

from small_cnn import constant, save_classifier, weights


def main():
    weight = weights(0)

    inits = [
        weight("conv.w", [4, 1, 3, 3], 0.3), weight("conv.b", [4], 0.1),
        constant("bn.scale", np.ones(4, np.float32)), weight("bn.bias", [4], 0.1),
        constant("bn.mean", np.zeros(4, np.float32)),
        constant("bn.var", np.ones(4, np.float32)),
        constant("drop.ratio", 0.3, np.float32),
        constant("drop.training", True),
        weight("fc.w", [10, 256], 0.05), weight("fc.b", [10], 0.1),
    ]
    nodes = [
        helper.make_node("Conv", ["image", "conv.w", "conv.b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "bn.scale", "bn.bias", "bn.mean", "bn.var"],
                         ["n", "bn.mean_out", "bn.var_out"], epsilon=1e-5, momentum=0.9,
                         training_mode=1),
        helper.make_node("Relu", ["n"], ["r"]),
        helper.make_node("Dropout", ["r", "drop.ratio", "drop.training"], ["d"], seed=7),
        helper.make_node("Flatten", ["d"], ["f"]),
        helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["logits"], transB=1),
    ]
    save_classifier(sys.argv[1], "dropout_cnn", nodes, inits, [4, 1, 8, 8])


if __name__ == "__main__":
    main()
