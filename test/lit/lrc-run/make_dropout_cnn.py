"""Writes a small CNN with every kind of state a checkpoint must keep (resume.test):
Conv -> BatchNormalization (training: running statistics) -> Relu -> Dropout (training:
masks drawn from the seed and the step) -> Flatten -> Gemm, on 1x8x8 images, 10 classes.

usage: make_dropout_cnn.py OUT.onnx
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    rng = np.random.default_rng(0)

    def weight(name, shape, scale):
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)

    inits = [
        weight("conv.w", [4, 1, 3, 3], 0.3), weight("conv.b", [4], 0.1),
        numpy_helper.from_array(np.ones(4, np.float32), "bn.scale"), weight("bn.bias", [4], 0.1),
        numpy_helper.from_array(np.zeros(4, np.float32), "bn.mean"),
        numpy_helper.from_array(np.ones(4, np.float32), "bn.var"),
        numpy_helper.from_array(np.array(0.3, np.float32), "drop.ratio"),
        numpy_helper.from_array(np.array(True), "drop.training"),
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
    graph = helper.make_graph(nodes, "dropout_cnn",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, [4, 1, 8, 8])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [4, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    onnx.checker.check_model(model)
    onnx.save(model, sys.argv[1])


if __name__ == "__main__":
    main()
