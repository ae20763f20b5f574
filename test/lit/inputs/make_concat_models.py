#!/usr/bin/python3
"""Writes the Concat/Slice/Split models of test/lit/import/concat-slice-split.test into OUT_DIR.

    make_concat_models.py OUT_DIR

concat_split_op{11,13,18}.onnx: conv, ReLU, a channel Split (opset 11: `split` attribute; 13:
`split` input; opset 18's `num_outputs`, which ONNX 1.12's checker refuses, for the error), a Slice of the second part's channels, their Concat, conv,
ReLU, global average pool and a linear layer. bad_*.onnx: Slice and Split forms lrc refuses.
"""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper


class Initializers:
    """A model's initializers: random weights (seed 0, scale 0.1) and int64 constants, by name
    (also used by make_transpose_models.py)."""

    def __init__(self):
        self.rng = np.random.default_rng(0)
        self.list = []

    def weight(self, name, shape):
        self.list.append(numpy_helper.from_array((self.rng.standard_normal(shape) * 0.1).astype(np.float32), name))
        return name

    def const(self, name, values):
        self.list.append(numpy_helper.from_array(np.array(values, dtype=np.int64), name))
        return name


def stem(inits):
    """conv1 (3 -> 6 channels, 3x3, pad 1) and relu1 of x: the map r1 [2, 6, 8, 8]."""
    return [helper.make_node("Conv", ["x", inits.weight("w1", [6, 3, 3, 3])], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c1"], ["r1"], name="relu1")]


def model(opset, split=None, num_outputs=None, slice_steps=None, slice_axes=(1,), slice_ends=(100,),
          slice_starts=(1,)):
    inits = Initializers()
    weight, const = inits.weight, inits.const
    nodes = stem(inits)
    split_inputs, split_attrs = ["r1"], {"axis": 1}
    if split is not None and opset >= 13:
        split_inputs.append(const("split", split))
    elif split is not None:
        split_attrs["split"] = split
    if num_outputs is not None:
        split_attrs["num_outputs"] = num_outputs
    nodes.append(helper.make_node("Split", split_inputs, ["a", "b"], name="split", **split_attrs))
    slice_inputs = ["b", const("starts", list(slice_starts)), const("ends", list(slice_ends)),
                    const("axes", list(slice_axes))]
    if slice_steps is not None:
        slice_inputs.append(const("steps", slice_steps))
    nodes += [helper.make_node("Slice", slice_inputs, ["c"], name="bad_node"),
              helper.make_node("Concat", ["a", "c"], ["cat"], name="cat", axis=1),
              *head(inits, "cat", 5)]
    return graph_model(nodes, inits, opset)


def head(inits, x, channels):
    """conv2 (channels -> 4, 3x3, pad 1), relu2, global average pool, flatten and a linear
    layer to 3 logits."""
    return [helper.make_node("Conv", [x, inits.weight("w2", [4, channels, 3, 3])], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
            helper.make_node("GlobalAveragePool", ["r2"], ["gap"], name="gap"),
            helper.make_node("Flatten", ["gap"], ["flat"], name="flat"),
            helper.make_node("Gemm", ["flat", inits.weight("fc", [3, 4])], ["logits"], name="fc", transB=1)]


def graph_model(nodes, inits, opset):
    """The model of `nodes` from input x [2, 3, 8, 8] to logits."""
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 8, 8])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, None])], inits.list)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    models = {
        "concat_split_op11.onnx": model(11, split=[2, 4]),
        "concat_split_op13.onnx": model(13, split=[2, 4]),
        "concat_split_equal_op13.onnx": model(13),
        "bad_split_num_outputs_op18.onnx": model(18, num_outputs=2),
        "bad_slice_step.onnx": model(13, split=[2, 4], slice_steps=[2], slice_ends=(4,)),
        "bad_slice_two_axes.onnx": model(13, split=[2, 4], slice_axes=(1, 2), slice_starts=(1, 1), slice_ends=(4, 7)),
        "bad_split_sizes.onnx": model(13, split=[2, 3]),
    }
    for name, m in models.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(m.SerializeToString())


if __name__ == "__main__":
    main()
