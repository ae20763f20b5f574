#!/usr/bin/python3
"""Writes every ONNX model the tests use into OUT_DIR.

    make_models.py OUT_DIR

- torchvision VGG-16 and ResNet-50 (random weights, seed 0), batch 1, 3x224x224, exported
  in training and in eval mode at opsets 13 and 17: {vgg16,resnet50}_{train,eval}_op{13,17}.onnx
- small hand-built graphs (onnx.helper) that cover every op form the importer handles,
  at the opsets where those forms differ: tiny_op{9,11,13,18}, features_op{9,11,13,18},
  gemm_op{9,11,13,18}, and external_data.onnx (+ external_data.bin);
- shape arithmetic the importer folds into constants: fold_op{9,11,13,18} (hand-built, every
  foldable op), shape_value_info.onnx (Shape of an intermediate that value_info types), and
  pad_torch_op{13,17}.onnx (torch's export of nn.ZeroPad2d before a Conv, training mode);
- models meant to fail import with a specific error: bad_*.onnx, and needs_input_shape.onnx
  (symbolic H and W: it imports only with --input-shape).

manifest.txt lists the valid models (one file name a line) and the failing ones as
`bad NAME: text the error names`. Nothing is redone when OUT_DIR/stamp holds the hash of
this script: the exports take about 40 s and write 2.5 GB (VGG-16 is 528 MiB a file).
"""
import hashlib
import os
import sys
import time
import warnings

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FLOAT = TensorProto.FLOAT
INT64 = TensorProto.INT64


# ---------------------------------------------------------------------------------------
# Small graph-building helpers

class Graph:
    """Accumulates nodes and initializers; names outputs after the node that makes them."""

    def __init__(self, seed=0):
        self.nodes = []
        self.inits = []
        self.rng = np.random.default_rng(seed)

    def weight(self, name, shape, dtype=np.float32):
        data = (self.rng.standard_normal(shape) * 0.1).astype(dtype)
        self.inits.append(numpy_helper.from_array(data, name))
        return name

    def const(self, name, values, dtype=np.int64):
        self.inits.append(numpy_helper.from_array(np.array(values, dtype=dtype), name))
        return name

    def node(self, op_type, inputs, name, outputs=None, **attrs):
        outputs = outputs or [name + "_out"]
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=name, **attrs))
        return outputs[0]

    def model(self, opset, inputs, outputs, name="g", initializers_as_inputs=False):
        if initializers_as_inputs:
            # Exporters of the opset-9 era listed every initializer as a graph input too.
            inputs = inputs + [helper.make_tensor_value_info(t.name, t.data_type, t.dims)
                               for t in self.inits]
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                                 producer_name="lrc make_models.py")


def image_input(name, shape):
    return helper.make_tensor_value_info(name, FLOAT, shape)


def any_output(name, elem=FLOAT, rank=2):
    # The ONNX 1.12 checker wants a shape on graph outputs; unknown dims are fine.
    return helper.make_tensor_value_info(name, elem, [None] * rank)


def batchnorm(g, x, name, channels, opset, training):
    """BatchNormalization in the form each opset spells training mode."""
    scale = g.weight(name + ".weight", [channels])
    bias = g.weight(name + ".bias", [channels])
    mean = g.weight(name + ".running_mean", [channels])
    var = g.const(name + ".running_var", np.abs(g.rng.standard_normal(channels)) + 0.5,
                  np.float32)
    inputs = [x, scale, bias, mean, var]
    if not training:
        return g.node("BatchNormalization", inputs, name, epsilon=1e-5, momentum=0.9)
    if opset >= 14:
        outs = [name + "_out", name + "_mean_out", name + "_var_out"]
        return g.node("BatchNormalization", inputs, name, outs, epsilon=1e-5, momentum=0.9,
                      training_mode=1)
    # Opsets 9-13: training is spelled by asking for the extra outputs (unused here).
    outs = [name + "_out", name + "_mean_out", name + "_var_out", name + "_saved_mean",
            name + "_saved_var"]
    return g.node("BatchNormalization", inputs, name, outs, epsilon=1e-5, momentum=0.9)


def pad(g, x, name, pads, opset, value=0.0):
    if opset < 11:
        return g.node("Pad", [x], name, mode="constant", pads=pads, value=value)
    p = g.const(name + ".pads", pads)
    c = g.const(name + ".value", value, np.float32)
    return g.node("Pad", [x, p, c], name, mode="constant")


def dropout(g, x, name, opset, ratio, training=False):
    if opset < 12:
        # Opsets 7-11 have no training flag: Dropout is inference-only there.
        return g.node("Dropout", [x], name, ratio=ratio)
    r = g.const(name + ".ratio", ratio, np.float32)
    inputs = [x, r]
    if training:
        inputs.append(g.const(name + ".training_mode", True, np.bool_))
    return g.node("Dropout", inputs, name, [name + "_out", name + "_mask"], seed=7)


def reshape(g, x, name, shape):
    s = g.const(name + ".shape", shape)
    return g.node("Reshape", [x, s], name)


# ---------------------------------------------------------------------------------------
# Valid small models

def tiny_net(opset, bn_training, batch="N", hw=(16, 16)):
    """conv-bn-relu-maxpool-conv-add(residual)-globalavgpool-flatten-gemm."""
    g = Graph(seed=opset)
    x = "image"
    c1 = g.node("Conv", [x, g.weight("conv1.weight", [8, 3, 3, 3]),
                         g.weight("conv1.bias", [8])], "conv1", kernel_shape=[3, 3],
                pads=[1, 1, 1, 1])
    b1 = batchnorm(g, c1, "bn1", 8, opset, bn_training)
    r1 = g.node("Relu", [b1], "relu1")
    p1 = g.node("MaxPool", [r1], "pool1", kernel_shape=[2, 2], strides=[2, 2])
    c2 = g.node("Conv", [p1, g.weight("conv2.weight", [8, 8, 3, 3])], "conv2",
                pads=[1, 1, 1, 1])
    a = g.node("Add", [c2, p1], "residual")
    gp = g.node("GlobalAveragePool", [a], "gap")
    f = g.node("Flatten", [gp], "flatten", axis=1)
    out = g.node("Gemm", [f, g.weight("fc.weight", [10, 8]), g.weight("fc.bias", [10])],
                 "fc", ["logits"], transB=1)
    return g.model(opset, [image_input(x, [batch, 3, *hw])], [any_output(out)],
                   initializers_as_inputs=opset == 9)


def features_net(opset):
    """Stride 2, dilation, groups, asymmetric padding (Pad and auto_pad), ceil_mode,
    count_include_pad, Dropout, Reshape/MatMul, Constant, Identity, Softmax; odd sizes."""
    g = Graph(seed=100 + opset)
    x = "image"
    c1 = g.node("Conv", [x, g.weight("c1.w", [6, 3, 3, 3]), g.weight("c1.b", [6])], "c1",
                strides=[2, 2], pads=[1, 1, 1, 1])                      # 17x19 -> 9x10
    r1 = g.node("Relu", [c1], "r1")
    p = pad(g, r1, "pad", [0, 0, 1, 0, 0, 0, 2, 1], opset, 0.5)       # -> 12x11
    c2 = g.node("Conv", [p, g.weight("c2.w", [6, 3, 3, 3])], "c2", dilations=[2, 2],
                group=2)                                                 # -> 8x7
    c3 = g.node("Conv", [c2, g.weight("c3.w", [8, 6, 3, 2])], "c3", strides=[2, 2],
                auto_pad="SAME_UPPER")                                   # -> 4x4
    c4 = g.node("Conv", [c3, g.weight("c4.w", [8, 8, 2, 2])], "c4",
                auto_pad="SAME_LOWER")                                   # -> 4x4
    c5 = g.node("Conv", [c4, g.weight("c5.w", [8, 8, 1, 1])], "c5", auto_pad="VALID")
    # ceil_mode exists from opset 10; before it, padding the end gives the same 2x2.
    if opset >= 10:
        mp = g.node("MaxPool", [c5], "mp", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    else:
        mp = g.node("MaxPool", [c5], "mp", kernel_shape=[3, 3], strides=[2, 2],
                    pads=[0, 0, 1, 1])
    ap = g.node("AveragePool", [mp], "ap", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                count_include_pad=1)                                     # -> 2x2
    d = dropout(g, ap, "drop", opset, 0.25, training=opset >= 12)
    shape = g.node("Constant", [], "shape_const", ["flat_shape"],
                   value=numpy_helper.from_array(np.array([0, -1], np.int64), "v"))
    flat = g.node("Reshape", [d, shape], "flat")                        # -> [2, 32]
    mm = g.node("MatMul", [flat, g.weight("fc.w", [32, 10])], "mm")
    bias = g.node("Constant", [], "bias_const", ["fc_bias"],
                  value=numpy_helper.from_array(
                      np.linspace(-1, 1, 10).astype(np.float32), "v"))
    lin = g.node("Add", [mm, bias], "add_bias")
    ident = g.node("Identity", [lin], "ident")
    out = g.node("Softmax", [ident], "softmax", ["probs"], axis=1)
    return g.model(opset, [image_input(x, [2, 3, 17, 19])], [any_output(out)])


def gemm_net(opset):
    """Flatten with a negative axis, Gemm with alpha/beta/transA, Reshape with -1,
    Constant with value_floats (opset 12+) or value (else), Softmax over the last axis."""
    g = Graph(seed=200 + opset)
    x = "image"
    # Negative axes exist from opset 11.
    f = g.node("Flatten", [x], "flatten", axis=-3 if opset >= 11 else 1)  # [4, 48]
    ab = [g.weight("a", [48, 4]), f]
    if opset < 11:  # C is optional from opset 11
        ab.append(g.weight("c0", [4]))
    t = g.node("Gemm", ab, "gemm_t", transA=1, transB=1, alpha=0.5)    # [4, 4]
    r = reshape(g, t, "reshape", [-1, 2])                         # [8, 2]
    if opset >= 12:
        c = g.node("Constant", [], "cvec", ["cvec_out"], value_floats=[0.5, -0.5])
    else:
        c = g.node("Constant", [], "cvec", ["cvec_out"],
                   value=numpy_helper.from_array(np.array([0.5, -0.5], np.float32), "v"))
    gm = g.node("Gemm", [r, g.weight("b", [2, 2]), c], "gemm", beta=2.0)
    out = g.node("Softmax", [gm], "softmax", ["probs"], axis=-1)
    return g.model(opset, [image_input(x, [4, 3, 4, 4])], [any_output(out)])


# ---------------------------------------------------------------------------------------
# Shape arithmetic on constants, which the importer folds

def fold_net(opset):
    """Every foldable op, each ending in Pad's pads or a Reshape's shape (so the IR shows the
    folded value), in the forms of the opset: Slice's attributes before opset 10, no Range
    before 11, Squeeze/Unsqueeze axes as an attribute before 13, Shape's start/end from 15.
    Shape targets keep -1 where the batch goes, so --batch works; values are for batch 2."""
    g = Graph(seed=300 + opset)

    def const(name, values):
        value = numpy_helper.from_array(np.array(values, np.int64), name)
        return g.node("Constant", [], name, value=value)

    def with_axes(op_type, x, name, axes):
        if opset < 13:
            return g.node(op_type, [x], name, axes=axes)
        return g.node(op_type, [x, const(name + ".axes", axes)], name)

    def constant_of_shape(name, length, value):
        return g.node("ConstantOfShape", [const(name + ".shape", [length])], name,
                      value=numpy_helper.from_array(np.array([value], np.int64), "v"))

    x = "image"  # [2, 3, 8, 8]
    # pads [0,0,1,1, 0,0,2,1]: ConstantOfShape, a backward Slice with a clamped end, Concat.
    if opset >= 11:
        begin = g.node("Concat", [const("pads.zeros", [0, 0]), constant_of_shape("ones", 2, 1)],
                       "begin", axis=0)                                  # [0, 0, 1, 1]
        end = g.node("Slice", [const("end.data", [1, 9, 2, 9, 0, 9, 0]), const("end.starts", [-1]),
                               const("end.ends", [-2**63]), const("end.axes", [0]),
                               const("end.steps", [-2])], "end")        # [0, 0, 2, 1]
        pads = g.node("Concat", [begin, end], "pads", axis=0)
        p = g.node("Pad", [x, pads], "pad", mode="constant")
    else:  # pads is an attribute before opset 11
        p = g.node("Pad", [x], "pad", mode="constant", pads=[0, 0, 1, 1, 0, 0, 2, 1])
    # -> [2, 3, 11, 10]
    # r1 [N, 3, -1]: Shape of the input, Gather (a negative index from opset 11), Unsqueeze,
    # Squeeze, Concat, and a Cast to int32 and back.
    if opset >= 15:
        dims = g.node("Shape", [x], "dims", start=-4, end=-2)           # [2, 3]
        n = g.node("Gather", [dims, const("n.index", -2)], "n")
    else:
        dims = g.node("Shape", [x], "dims")                             # [2, 3, 8, 8]
        n = g.node("Gather", [dims, const("n.index", -4 if opset >= 11 else 0)], "n")
    n = with_axes("Unsqueeze", n, "n1", [0])                            # [2]
    c = with_axes("Squeeze", const("c.data", [[[3]]]), "c", [0, -1] if opset >= 11 else [0, 2])
    s1 = g.node("Concat", [n, c, const("s1.rest", [-1])], "s1_i64", axis=0)
    s1 = g.node("Cast", [s1], "s1_i32", to=TensorProto.INT32)
    s1 = g.node("Cast", [s1], "s1", to=INT64)
    r = g.node("Reshape", [p, s1], "r1")                                # [2, 3, 110]
    # r2 [-1, 110]: Slice with a negative start and an end past the axis.
    s2_data = const("s2.data", [9, -1, 110])
    if opset < 10:
        s2 = g.node("Slice", [s2_data], "s2", starts=[-2], ends=[1000], axes=[0])
    else:
        s2 = g.node("Slice", [s2_data, const("s2.starts", [-2]), const("s2.ends", [1000])], "s2")
    r = g.node("Reshape", [r, s2], "r2")                                # [6, 110]
    # r3 [-1, 55]: integer Mul (by a broadcast scalar), Div, Add, Sub.
    s3 = g.node("Mul", [const("s3.a", [6, 11]), const("s3.two", 2)], "s3_mul")       # [12, 22]
    s3 = g.node("Div", [s3, const("s3.divisor", [-12, 2])], "s3_div")               # [-1, 11]
    s3 = g.node("Add", [s3, const("s3.addend", [1, 45])], "s3_add")                  # [0, 56]
    s3 = g.node("Sub", [s3, const("s3.one", 1)], "s3")                               # [-1, 55]
    r = g.node("Reshape", [r, s3], "r3")                                # [12, 55]
    # r4 [-1, 44]: Range with a negative delta (a Constant before opset 11), Mul.
    if opset >= 11:
        s4 = g.node("Range", [const("s4.start", -1), const("s4.limit", -5), const("s4.delta", -3)],
                    "s4_range")                                          # [-1, -4]
    else:
        s4 = const("s4_range", [-1, -4])
    s4 = g.node("Mul", [s4, const("s4.factor", [1, -11])], "s4")
    r = g.node("Reshape", [r, s4], "r4")                                # [15, 44]
    # r5 [-1, 33]: Where(Equal(s, 0), ConstantOfShape(33), s).
    s5 = const("s5.data", [-1, 0])
    zero = g.node("Equal", [s5, const("s5.zero", 0)], "s5_is_zero")
    s5 = g.node("Where", [zero, constant_of_shape("s5_fill", 2, 33), s5], "s5")
    r = g.node("Reshape", [r, s5], "r5")                                # [20, 33]
    # r6 [-1, 165]: Transpose and Reshape of a constant.
    s6 = g.node("Transpose", [const("s6.column", [[-1], [165]])], "s6_row")
    s6 = g.node("Reshape", [s6, const("s6.flat", [-1])], "s6")
    r = g.node("Reshape", [r, s6], "r6")                                # [4, 165]
    # r7 [-1, 330]: Squeeze without axes and Identity, of an int64 initializer.
    s7 = g.node("Squeeze", [g.const("s7.data", [[[-1]], [[330]]])], "s7_squeezed")
    s7 = g.node("Identity", [s7], "s7")
    out = g.node("Reshape", [r, s7], "r7", ["out"])                     # [2, 330]
    return g.model(opset, [image_input(x, [2, 3, 8, 8])], [any_output(out)])


def flatten_by_shape(g, x, shape_node="dims"):
    """torch's x.view(x.size(0), -1): Shape, Slice, Concat, Reshape."""
    dims = g.node("Shape", [x], shape_node)
    batch = g.node("Slice", [dims, g.const("batch.starts", [0]), g.const("batch.ends", [1])],
                   "batch")
    target = g.node("Concat", [batch, g.const("rest", [-1])], "target", axis=0)
    return g.node("Reshape", [x, target], "flat", ["out"])


def shape_value_info_net():
    """Shape of an intermediate, which value_info types: it folds from value_info as long as the
    input keeps its declared shape (with --batch, value_info is stale: it folds from the shape
    the importer found)."""
    g = Graph()
    relu = g.node("Relu", ["image"], "relu")
    out = flatten_by_shape(g, relu)
    model = g.model(13, [image_input("image", [2, 3, 4, 4])], [any_output(out)])
    model.graph.value_info.append(helper.make_tensor_value_info(relu, FLOAT, [2, 3, 4, 4]))
    return model


def export_torch_pad(out_dir):
    """nn.ZeroPad2d before a Conv, exported in training mode: torch 1.13 cannot fold its
    reversed Slice (steps=-1), so Pad's pads come from a Constant, ConstantOfShape, Concat,
    Reshape, Slice, Transpose, Reshape, Cast subgraph."""
    import torch
    from torch import nn

    warnings.filterwarnings("ignore", message=".*Only steps=1 can be constant folded.*")

    class PadNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.pad = nn.ZeroPad2d((1, 0, 2, 1))  # left, right, top, bottom
            self.conv = nn.Conv2d(3, 4, 3)
            self.fc = nn.Linear(4 * 10 * 6, 5)

        def forward(self, x):
            return self.fc(torch.flatten(torch.relu(self.conv(self.pad(x))), 1))

    torch.manual_seed(0)
    model = PadNet().train()
    x = torch.randn(2, 3, 9, 7)
    for opset in (13, 17):
        name = f"pad_torch_op{opset}.onnx"
        with torch.no_grad():
            torch.onnx.export(model, x, os.path.join(out_dir, name), opset_version=opset,
                              training=torch.onnx.TrainingMode.TRAINING,
                              do_constant_folding=False, input_names=["input"],
                              output_names=["logits"])
        yield name


def export_torch_tied(out_dir):
    """Two convolutions and a linear layer whose biases are all zero, exported in eval mode:
    torch deduplicates equal initializers, so the biases come from one initializer through
    Identity nodes (as in torchvision's VGG-16 eval export). lrc unties them."""
    import torch
    from torch import nn

    class TiedNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
            self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
            self.fc = nn.Linear(4 * 6 * 6, 4)
            for bias in (self.conv1.bias, self.conv2.bias, self.fc.bias):
                nn.init.zeros_(bias)

        def forward(self, x):
            y = torch.relu(self.conv2(torch.relu(self.conv1(x))))
            return self.fc(torch.flatten(y, 1))

    torch.manual_seed(0)
    name = "tied_biases_eval.onnx"
    with torch.no_grad():
        torch.onnx.export(TiedNet().eval(), torch.randn(2, 1, 6, 6), os.path.join(out_dir, name),
                          opset_version=13, training=torch.onnx.TrainingMode.EVAL,
                          input_names=["input"], output_names=["logits"])
    yield name


# ---------------------------------------------------------------------------------------
# Malformed and unsupported models. Each returns (model or bytes, what the error names).

def one_node_model(op_type, inputs, outputs, x_shape, inits=(), opset=13, **attrs):
    g = Graph()
    g.inits.extend(inits)
    g.nodes.append(helper.make_node(op_type, inputs, outputs, name="bad_node", **attrs))
    return g.model(opset, [image_input("x", x_shape)],
                   [any_output(outputs[0], rank=len(x_shape))])


def bad_models(valid_bytes):
    def w(name, shape):
        return numpy_helper.from_array(np.zeros(shape, np.float32), name)

    cases = {}
    cases["bad_truncated"] = (valid_bytes[: len(valid_bytes) // 2], "not a valid ONNX model")
    cases["bad_missing_initializer"] = (
        one_node_model("Conv", ["x", "W_missing"], ["y"], [1, 3, 8, 8]), "W_missing")
    cases["bad_conv_weight_rank"] = (
        one_node_model("Conv", ["x", "W"], ["y"], [1, 3, 8, 8], [w("W", [4, 3, 3])]),
        "bad_node")
    gemm = one_node_model("Gemm", ["x", "B"], ["y"], [2, 3, 4], [w("B", [4, 5])])
    cases["bad_gemm_rank"] = (gemm, "bad_node")
    cases["bad_unknown_op"] = (one_node_model("FancyConv", ["x"], ["y"], [1, 3, 8, 8]),
                               "FancyConv")
    lstm = one_node_model("LSTM", ["x", "W", "R"], ["y"], [5, 1, 4],
                          [w("W", [1, 12, 4]), w("R", [1, 12, 3])], hidden_size=3)
    cases["bad_lstm"] = (lstm, "LSTM")
    cases["bad_conv3d"] = (
        one_node_model("Conv", ["x", "W"], ["y"], [1, 3, 4, 8, 8], [w("W", [2, 3, 1, 3, 3])]),
        "bad_node")
    cases["bad_opset7"] = (one_node_model("Relu", ["x"], ["y"], [1, 3, 8, 8], opset=7),
                           "opset 7")
    cases["bad_maxpool_indices"] = (maxpool_indices_model(), "bad_node")
    cases["bad_pad_reflect"] = (
        one_node_model("Pad", ["x", "p"], ["y"], [1, 3, 8, 8],
                       [numpy_helper.from_array(np.ones(8, np.int64), "p")], mode="reflect"),
        "reflect")
    cases["bad_softmax_axis"] = (
        one_node_model("Softmax", ["x"], ["y"], [1, 3, 8, 8], opset=11, axis=1), "bad_node")
    cases["bad_double_initializer"] = (
        one_node_model("Add", ["x", "D"], ["y"], [1, 3, 8, 8],
                       [numpy_helper.from_array(np.zeros([1], np.float64), "D")]), "'D'")
    cases["bad_dynamic_reshape"] = (dynamic_reshape_model(), "bad_node")
    cases["bad_unknown_shape"] = (unknown_shape_model(), "bad_node")
    cases["bad_gather_index"] = (gather_index_model(), "bad_node")
    return cases


def maxpool_indices_model():
    g = Graph()
    g.nodes.append(helper.make_node("MaxPool", ["x"], ["y", "idx"], name="bad_node",
                                    kernel_shape=[2, 2]))
    return g.model(13, [image_input("x", [1, 3, 8, 8])],
                   [any_output("y", rank=4), any_output("idx", INT64, rank=4)])


def dynamic_reshape_model():
    """Reshape whose shape is a graph input: the IR needs it at compile time."""
    g = Graph()
    g.nodes.append(helper.make_node("Reshape", ["x", "s"], ["y"], name="bad_node"))
    return g.model(13, [image_input("x", [1, 3, 8, 8]),
                        helper.make_tensor_value_info("s", INT64, [2])], [any_output("y")])


def unknown_shape_model():
    """Shape of an intermediate nothing types: it folds from the shape the importer finds (it
    was refused before that; the name stays, test/unit/onnx_import_test.cpp's
    ImportFolding.ShapeOfAComputedMap imports it)."""
    g = Graph()
    out = flatten_by_shape(g, g.node("Relu", ["x"], "relu"), shape_node="bad_node")
    return g.model(13, [image_input("x", [1, 3, 8, 8])], [any_output(out)])


def gather_index_model():
    """A Gather on constants whose index is out of range."""
    g = Graph()
    index = g.node("Gather", [g.const("data", [1, 2, 3]), g.const("index", [5])], "bad_node")
    out = g.node("Reshape", ["x", index], "r", ["y"])
    return g.model(13, [image_input("x", [1, 3, 8, 8])], [any_output(out)])


# ---------------------------------------------------------------------------------------
# torchvision exports

def export_torchvision(out_dir, log):
    import torch
    import torchvision

    # torch warns once per BatchNorm that num_batches_tracked is not exported; it is not
    # part of the ONNX semantics, and 53 warnings would hide real ones.
    warnings.filterwarnings("ignore", message=".*num_batches_tracked.*")

    for arch in ("vgg16", "resnet50"):
        torch.manual_seed(0)
        model = getattr(torchvision.models, arch)(weights=None)
        x = torch.randn(1, 3, 224, 224)
        for mode in ("train", "eval"):
            for opset in (13, 17):
                path = os.path.join(out_dir, f"{arch}_{mode}_op{opset}.onnx")
                start = time.time()
                if mode == "train":
                    model.train()
                    training = torch.onnx.TrainingMode.TRAINING
                else:
                    # Eval-mode export folds BatchNorm into the preceding Conv (torch's
                    # eval peephole); that is the graph users get, so we keep it.
                    model.eval()
                    training = torch.onnx.TrainingMode.EVAL
                with torch.no_grad():
                    torch.onnx.export(model, x, path, opset_version=opset, training=training,
                                      do_constant_folding=(mode == "eval"),
                                      input_names=["input"], output_names=["logits"])
                log(f"{os.path.basename(path)}: {time.time() - start:.1f}s, "
                    f"{os.path.getsize(path) / 2**20:.0f} MiB")
                yield os.path.basename(path)


# ---------------------------------------------------------------------------------------

def save(model, path):
    onnx.checker.check_model(model)
    onnx.save_model(model, path)


def script_hash():
    with open(os.path.abspath(__file__), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_models.py OUT_DIR")
    out_dir = sys.argv[1]
    stamp = os.path.join(out_dir, "stamp")
    digest = script_hash()
    if os.path.exists(stamp) and open(stamp).read().strip() == digest:
        print(f"{out_dir}: up to date")
        return
    os.makedirs(out_dir, exist_ok=True)
    if os.path.exists(stamp):
        os.remove(stamp)  # a half-finished run must not look finished
    valid, bad = [], []

    def log(msg):
        print(msg, flush=True)

    def write(name, model):
        save(model, os.path.join(out_dir, name))
        valid.append(name)

    for opset, bn_training in ((9, False), (11, True), (13, False), (18, True)):
        write(f"tiny_op{opset}.onnx", tiny_net(opset, bn_training))
    for opset in (9, 11, 13, 18):
        write(f"features_op{opset}.onnx", features_net(opset))
        write(f"gemm_op{opset}.onnx", gemm_net(opset))
        write(f"fold_op{opset}.onnx", fold_net(opset))
    write("shape_value_info.onnx", shape_value_info_net())

    # External data: every tensor in one side file, loaded relative to the model's folder.
    ext = tiny_net(13, bn_training=True, batch=2)
    onnx.checker.check_model(ext)
    onnx.save_model(ext, os.path.join(out_dir, "external_data.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="external_data.bin",
                    size_threshold=0)
    valid.append("external_data.onnx")
    # The same, pointing at a side file that is not there.
    missing = tiny_net(13, bn_training=False)
    onnx.save_model(missing, os.path.join(out_dir, "bad_external_missing.onnx"),
                    save_as_external_data=True, all_tensors_to_one_file=True,
                    location="bad_external_missing.bin", size_threshold=0)
    os.remove(os.path.join(out_dir, "bad_external_missing.bin"))
    bad.append(("bad_external_missing", "bad_external_missing.bin"))
    # Symbolic height and width: imports only with --input-shape.
    save(tiny_net(13, bn_training=False, hw=("H", "W")),
         os.path.join(out_dir, "needs_input_shape.onnx"))
    bad.append(("needs_input_shape", "'H'"))

    valid_bytes = tiny_net(13, bn_training=False).SerializeToString()
    for name, (model, expect) in bad_models(valid_bytes).items():
        path = os.path.join(out_dir, name + ".onnx")
        if isinstance(model, bytes):
            with open(path, "wb") as f:
                f.write(model)
        else:
            onnx.save_model(model, path)  # unchecked on purpose: some fail the checker
        bad.append((name, expect))

    valid.extend(export_torch_pad(out_dir))
    valid.extend(export_torch_tied(out_dir))
    start = time.time()
    valid.extend(export_torchvision(out_dir, log))
    log(f"torchvision exports: {time.time() - start:.1f}s")

    with open(os.path.join(out_dir, "manifest.txt"), "w") as f:
        for name in valid:
            f.write(name + "\n")
        for name, expect in bad:
            f.write(f"bad {name}.onnx: {expect}\n")
    with open(stamp, "w") as f:
        f.write(digest + "\n")
    log(f"{out_dir}: {len(valid)} valid and {len(bad)} bad models")


if __name__ == "__main__":
    main()
