#!/usr/bin/python3
"""Writes the models of test/lit/import/erf-sqrt-pow-matmul.test and layer-norm.test into OUT_DIR.

    make_ln_models.py OUT_DIR

ops_op13.onnx: conv, Pow by a constant 2, Add 1, Sqrt, Erf, a MatMul of the 4-D map by a 2-D
weight (a Linear on the last axis), ReLU, global average pool, Flatten, Gemm. bad_*.onnx: the
Pow and MatMul forms lrc refuses (an exponent per element, an exponent computed by the graph, a
3-D B, a 5-D A). ln_*.onnx: a LayerNorm over the last axis as opset 17's LayerNormalization and as
torch's opset-13 decomposition, and two decompositions that are not one (a cube, axis 2 only).
"""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper


def model(exponent=(2.0,), exponent_from_graph=False, b_shape=(8, 6), a_5d=False):
    rng = np.random.default_rng(0)
    inits = []

    def weight(name, shape):
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * 0.1).astype(np.float32), name))
        return name

    def const(name, values, dtype=np.float32):
        inits.append(numpy_helper.from_array(np.array(values, dtype=dtype).reshape(-1 if len(values) > 1 else ()), name))
        return name

    nodes = [helper.make_node("Conv", ["x", weight("w1", [4, 3, 3, 3])], ["c1"], name="conv1", pads=[1, 1, 1, 1])]
    if exponent_from_graph:
        nodes.append(helper.make_node("ReduceMean", ["c1"], ["e"], name="mean", keepdims=0))
        pow_exponent = "e"
    else:
        pow_exponent = const("two", list(exponent))
    nodes += [helper.make_node("Pow", ["c1", pow_exponent], ["sq"], name="bad_pow"),
              helper.make_node("Add", ["sq", const("one", [1.0])], ["sq1"], name="add1"),
              helper.make_node("Sqrt", ["sq1"], ["root"], name="root"),
              helper.make_node("Erf", ["root"], ["erf"], name="erf")]
    a = "erf"
    if a_5d:
        nodes.append(helper.make_node("Reshape", ["erf", const("shape5", [2, 2, 2, 8, 8], np.int64)], ["erf5"], name="r5"))
        a = "erf5"
    nodes += [helper.make_node("MatMul", [a, weight("lin", list(b_shape))], ["mm"], name="bad_matmul"),
              helper.make_node("Relu", ["mm"], ["r"], name="relu"),
              helper.make_node("GlobalAveragePool", ["r"], ["gap"], name="gap"),
              helper.make_node("Flatten", ["gap"], ["flat"], name="flat"),
              helper.make_node("Gemm", ["flat", weight("fc", [3, 4])], ["logits"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 8, 8])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, None])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def layer_norm_model(opset, exponent=2.0, axes=(-1,)):
    """conv, a LayerNorm over the last axis (opset 17: LayerNormalization; 13: torch's
    decomposition, ReduceMean ... Add bias, with `exponent` and `axes` for its ReduceMeans), ReLU,
    global average pool, Flatten, Gemm."""
    rng = np.random.default_rng(1)
    inits = [numpy_helper.from_array((rng.standard_normal([4, 3, 3, 3]) * 0.1).astype(np.float32), "w1"),
             numpy_helper.from_array(np.linspace(0.5, 1.5, 8).astype(np.float32), "ln_scale"),
             numpy_helper.from_array(np.linspace(-0.1, 0.1, 8).astype(np.float32), "ln_bias"),
             numpy_helper.from_array((rng.standard_normal([3, 4]) * 0.1).astype(np.float32), "fc")]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1])]
    if opset >= 17:
        nodes.append(helper.make_node("LayerNormalization", ["c1", "ln_scale", "ln_bias"], ["ln"], name="ln",
                                      axis=-1, epsilon=1e-5))
    else:
        const = lambda name, v: helper.make_node("Constant", [], [name], name=name,
                                                 value=numpy_helper.from_array(np.array(v, dtype=np.float32)))
        nodes += [helper.make_node("ReduceMean", ["c1"], ["m"], name="mean", axes=list(axes)),
                  helper.make_node("Sub", ["c1", "m"], ["d"], name="sub"),
                  const("exponent", exponent),
                  helper.make_node("Pow", ["d", "exponent"], ["p"], name="pow"),
                  helper.make_node("ReduceMean", ["p"], ["v"], name="var", axes=list(axes)),
                  const("eps", 1e-5),
                  helper.make_node("Add", ["v", "eps"], ["ve"], name="add_eps"),
                  helper.make_node("Sqrt", ["ve"], ["s"], name="sqrt"),
                  helper.make_node("Div", ["d", "s"], ["n"], name="div"),
                  helper.make_node("Mul", ["n", "ln_scale"], ["nw"], name="mul"),
                  helper.make_node("Add", ["nw", "ln_bias"], ["ln"], name="ln")]
    nodes += [helper.make_node("Relu", ["ln"], ["r"], name="relu"),
              helper.make_node("GlobalAveragePool", ["r"], ["gap"], name="gap"),
              helper.make_node("Flatten", ["gap"], ["flat"], name="flat"),
              helper.make_node("Gemm", ["flat", "fc"], ["logits"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 8, 8])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, None])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    models = {
        "ops_op13.onnx": model(),
        "bad_pow_per_element.onnx": model(exponent=(2.0, 3.0, 2.0, 2.0)),
        "bad_pow_computed.onnx": model(exponent_from_graph=True),
        "bad_matmul_b3d.onnx": model(b_shape=(2, 8, 6)),
        "bad_matmul_a5d.onnx": model(a_5d=True),
        "ln_op17.onnx": layer_norm_model(17),
        "ln_decomposed_op13.onnx": layer_norm_model(13),
        "ln_decomposed_cube_op13.onnx": layer_norm_model(13, exponent=3.0),
        "ln_decomposed_axis2_op13.onnx": layer_norm_model(13, axes=(2,)),
    }
    for name, m in models.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(m.SerializeToString())


if __name__ == "__main__":
    main()
