#!/usr/bin/python3
"""Writes the Resize/Upsample models of test/lit/import/resize.test into OUT_DIR.

    make_resize_models.py OUT_DIR

resize_op{11,13}.onnx: conv, ReLU, a bilinear x2 Resize (scales; opset 11 with its empty roi),
conv, ReLU, a nearest Resize to 24x24 (sizes: a fractional 1.5), conv, global average pool and
a linear layer, on 2x3x8x8 images. resize_shape_op13.onnx: its sizes from Shape, Slice and Concat
of the activation, as torch exports F.interpolate(size=...). upsample_op9.onnx: the same with Upsample (nearest, then
linear). bad_*.onnx: Resize forms lrc refuses.
"""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper


def model(opset, up=None, up2=None, op="Resize", sizes_input=False, sizes_from_shape=False):
    """up, up2: the two resizes' (attributes, scales or None, sizes or None)."""
    rng = np.random.default_rng(0)
    inits = []
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 8, 8])]

    def weight(name, shape):
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * 0.1).astype(np.float32), name))
        return name

    def const(name, values, dtype):
        inits.append(numpy_helper.from_array(np.array(values, dtype=dtype), name))
        return name

    def resize(name, x, out, spec):
        attrs, scales, sizes = spec
        if op == "Upsample":
            return helper.make_node("Upsample", [x, const(name + ".scales", scales, np.float32)], [out], name=name, **attrs)
        ins = [x]
        if opset >= 11:
            ins.append(const(name + ".roi", [], np.float32) if opset == 11 else "")
        if sizes is None:
            ins.append(const(name + ".scales", scales, np.float32))
        else:
            empty = const(name + ".scales", [], np.float32) if opset == 11 else ""  # opset 11: scales is required
            ins.append(const(name + ".scales", scales, np.float32) if scales is not None else empty)
            if sizes_input:
                inputs.append(helper.make_tensor_value_info(name + ".sizes", TensorProto.INT64, [4]))
                ins.append(name + ".sizes")
            elif sizes_from_shape:  # as torch exports F.interpolate(size=...): x's N, C, then H, W
                shape_nodes.extend([
                    helper.make_node("Shape", [x], [name + ".shape"], name=name + ".shape"),
                    helper.make_node("Slice", [name + ".shape", const(name + ".s0", [0], np.int64),
                                               const(name + ".s1", [2], np.int64), const(name + ".s2", [0], np.int64)],
                                     [name + ".nc"], name=name + ".nc"),
                    helper.make_node("Concat", [name + ".nc", const(name + ".hw", sizes[2:], np.int64)],
                                     [name + ".sizes"], name=name + ".sizes", axis=0)])
                ins.append(name + ".sizes")
            else:
                ins.append(const(name + ".sizes", sizes, np.int64))
        return helper.make_node("Resize", ins, [out], name=name, **attrs)

    shape_nodes = []
    resize2 = resize("up2", "r2", "u2", up2)
    nodes = [helper.make_node("Conv", ["x", weight("w1", [4, 3, 3, 3])], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             resize("up", "r1", "u1", up),
             helper.make_node("Conv", ["u1", weight("w2", [4, 4, 3, 3])], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
             *shape_nodes,
             resize2,
             helper.make_node("Conv", ["u2", weight("w3", [4, 4, 3, 3])], ["c3"], name="conv3", pads=[1, 1, 1, 1]),
             helper.make_node("GlobalAveragePool", ["c3"], ["gap"], name="gap"),
             helper.make_node("Flatten", ["gap"], ["flat"], name="flat"),
             helper.make_node("Gemm", ["flat", weight("fc", [3, 4])] + ([weight("fc.bias", [3])] if opset < 11 else []),
                              ["logits"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, None])],
                              inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


BILINEAR = ({"mode": "linear"}, [1, 1, 2, 2], None)
NEAREST_SIZES = ({"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}, None,
                 [2, 4, 24, 24])


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    models = {
        "resize_op13.onnx": model(13, BILINEAR, NEAREST_SIZES),
        "resize_op11.onnx": model(11, ({"mode": "linear", "coordinate_transformation_mode": "align_corners"},
                                       [1, 1, 2, 2], None), NEAREST_SIZES),
        "upsample_op9.onnx": model(9, ({"mode": "nearest"}, [1, 1, 2, 2], None),
                                   ({"mode": "linear"}, [1, 1, 1.5, 1.5], None), op="Upsample"),
        "resize_shape_op13.onnx": model(13, BILINEAR, NEAREST_SIZES, sizes_from_shape=True),
        "bad_resize_cubic.onnx": model(13, ({"mode": "cubic"}, [1, 1, 2, 2], None), NEAREST_SIZES),
        "bad_resize_crop.onnx": model(13, ({"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize"},
                                           [1, 1, 2, 2], None), NEAREST_SIZES),
        "bad_resize_channels.onnx": model(13, ({"mode": "linear"}, [1, 2, 2, 2], None), NEAREST_SIZES),
        "bad_resize_sizes_input.onnx": model(13, BILINEAR, NEAREST_SIZES, sizes_input=True),
        "bad_resize_both.onnx": model(13, BILINEAR, (NEAREST_SIZES[0], [1, 1, 3, 3], [2, 4, 24, 24])),
    }
    for name, m in models.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(m.SerializeToString())


if __name__ == "__main__":
    main()
