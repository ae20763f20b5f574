#!/usr/bin/python3
"""Writes the ConvTranspose models of test/lit/import/conv-transpose.test into OUT_DIR.

    make_conv_transpose_models.py OUT_DIR

convt_*.onnx: conv, ReLU, a ConvTranspose (the attribute forms below), conv, global average
pool, linear. bad_*.onnx: forms lrc refuses (a 3-D ConvTranspose, an output_shape that needs a
negative start pad, output_padding not below the stride).
"""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper


def model(up_attrs, rank=4, up_weight=(4, 3, 3, 3)):
    rng = np.random.default_rng(0)
    inits = []

    def weight(name, shape):
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * 0.1).astype(np.float32), name))
        return name

    spatial = [6, 6] if rank == 4 else [6]
    k = [3, 3] if rank == 4 else [3]
    pads = [1] * (2 * len(spatial))
    cout = up_weight[1] * up_attrs.get("group", 1)
    # A 3-D model starts with the ConvTranspose (lrc's Conv would refuse it first).
    first = [] if rank == 3 else [
        helper.make_node("Conv", ["x", weight("w1", [4, 3] + k)], ["c1"], name="conv1", pads=pads),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1")]
    nodes = first + [
        helper.make_node("ConvTranspose", ["x" if rank == 3 else "r1", weight("wt", list(up_weight)),
                                           weight("bt", [cout])], ["up"], name="up", **up_attrs),
        helper.make_node("GlobalAveragePool", ["up"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flat"),
        helper.make_node("Gemm", ["flat", weight("fc", [2, cout])], ["logits"], name="fc", transB=1)]
    channels = up_weight[0] if rank == 3 else 3
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, channels] + spatial)],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, None])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    models = {
        "convt_pads.onnx": model({"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]}),
        # output_shape 13x12 from 6x6, k3 s2: total padding 0 and 1 (width's odd pad at the start).
        "convt_output_shape.onnx": model({"strides": [2, 2], "output_shape": [13, 12]}),
        # output_shape larger than the natural 13: the end pad -1 becomes output_padding 1.
        "convt_output_shape_larger.onnx": model({"strides": [2, 2], "output_shape": [14, 13]}),
        "convt_same_upper.onnx": model({"strides": [2, 2], "auto_pad": "SAME_UPPER"}),
        "convt_same_lower.onnx": model({"strides": [2, 2], "auto_pad": "SAME_LOWER"}),
        "convt_valid_group.onnx": model({"strides": [2, 2], "auto_pad": "VALID", "group": 2}, up_weight=(4, 2, 3, 3)),
        "bad_convt_3d.onnx": model({"strides": [2]}, rank=3, up_weight=(4, 3, 3)),
        "bad_convt_output_shape.onnx": model({"strides": [2, 2], "output_shape": [20, 12]}),
        "bad_convt_output_padding.onnx": model({"strides": [2, 2], "output_padding": [2, 0]}),
    }
    for name, m in models.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(m.SerializeToString())


if __name__ == "__main__":
    main()
