#!/usr/bin/python3
"""Writes the Transpose models of test/lit/import/transpose.test into OUT_DIR.

    make_transpose_models.py OUT_DIR

shuffle.onnx: conv, ReLU, a channel shuffle as torch exports it (Reshape [N,C,H,W] ->
[N,2,C/2,H,W], Transpose perm=[0,2,1,3,4], Reshape back), conv, ReLU, global average pool and a
linear layer. channels_last.onnx: the same with the shuffle replaced by a channels-last round trip
(Transpose [0,2,3,1], Relu, Transpose [0,3,1,2]). chunk.onnx: torch's x.chunk(2, dim=1) of a
computed map, its size from Shape, Gather, Div (the first half, concatenated twice), for
test/lit/import/shape-of-map.test. bad_*.onnx: perms lrc refuses.
"""
import os
import sys

from make_concat_models import Initializers, graph_model, head, stem
from onnx import TensorProto, helper


def model(middle):
    inits = Initializers()
    return graph_model([*stem(inits), *middle(inits.const), *head(inits, "m", 6)], inits, 13)


def shuffle(const):
    return [helper.make_node("Reshape", ["r1", const("grouped", [2, 2, 3, 8, 8])], ["g"], name="split_groups"),
            helper.make_node("Transpose", ["g"], ["t"], name="swap", perm=[0, 2, 1, 3, 4]),
            helper.make_node("Reshape", ["t", const("merged", [2, -1, 8, 8])], ["m"], name="merge_groups")]


def chunk(const):
    two = helper.make_tensor("two", TensorProto.INT64, [], [2])
    one = helper.make_tensor("one", TensorProto.INT64, [], [1])
    return [helper.make_node("Shape", ["r1"], ["shape"], name="shape"),
            helper.make_node("Constant", [], ["one"], name="one", value=one),
            helper.make_node("Gather", ["shape", "one"], ["channels"], name="gather", axis=0),
            helper.make_node("Constant", [], ["two"], name="two", value=two),
            helper.make_node("Div", ["channels", "two"], ["half"], name="div"),
            helper.make_node("Unsqueeze", ["half", const("axes0", [0])], ["end"], name="unsqueeze"),
            helper.make_node("Slice", ["r1", const("start", [0]), "end", const("axis", [1])], ["a"], name="chunk"),
            helper.make_node("Concat", ["a", "a"], ["m"], name="cat", axis=1)]


def channels_last(perm=(0, 2, 3, 1)):
    def nodes(const):
        return [helper.make_node("Transpose", ["r1"], ["nhwc"], name="bad_node", perm=list(perm)),
                helper.make_node("Relu", ["nhwc"], ["rl"], name="relu_last"),
                helper.make_node("Transpose", ["rl"], ["m"], name="to_nchw", perm=[0, 3, 1, 2])]
    return nodes


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    models = {
        "shuffle.onnx": model(shuffle),
        "channels_last.onnx": model(channels_last()),
        "chunk.onnx": model(chunk),
        "bad_perm_repeats.onnx": model(channels_last((0, 2, 2, 1))),
        "bad_perm_length.onnx": model(channels_last((0, 2, 1))),
    }
    for name, m in models.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(m.SerializeToString())


if __name__ == "__main__":
    main()
