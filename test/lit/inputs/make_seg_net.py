#!/usr/bin/python3
"""Writes a tiny segmentation net and its data into OUT_DIR for the per-pixel loss tests.

    make_seg_net.py OUT_DIR

seg.onnx: conv 3x3 (3 -> 4 channels, pad 1), ReLU, a 1x1 conv to 3 classes: logits
[2,3,6,5] for images [2,3,6,5]. x.npy: 4 images; m_u8.npy: label maps (4,6,5) uint8 with two
pixels at 255; m.npy: int64, those and one more at -100; bad_class.npy: m.npy with 255 for
-100 and a 3 (>= K) at sample 2, pixel (4,1); bad_shape.npy: maps (4,5,6); per_sample.npy: labels (4,);
m_strip.npy: m_u8 with rows 0 and 1 of every map at 255 (a row strip whose pixels are all ignored).
folder/images/{a,b,c,d}.png (RGB 5x6) with folder/masks/*.png (palette PNGs of m_u8's maps, as
VOC's); folder_missing: the same without masks/c.png.
folder_sizes: 3 RGB images of sizes 12x10, 9x7 and 20x16 with grayscale masks of their sizes;
folder_badsize: two 12x10 images, a.png's mask 4x4. x_big.npy (4,3,12,10) with m_big.npy (4,12,10).
"""
import os
import sys

import shutil

import numpy as np
from PIL import Image
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)
w1 = numpy_helper.from_array((rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32), "w1")
w2 = numpy_helper.from_array((rng.standard_normal((3, 4, 1, 1)) * 0.3).astype(np.float32), "w2")
nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
         helper.make_node("Conv", ["r1", "w2"], ["logits"], name="head")]
graph = helper.make_graph(nodes, "seg", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 6, 5])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [2, 3, 6, 5])], [w1, w2])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
with open(os.path.join(out, "seg.onnx"), "wb") as f:
    f.write(model.SerializeToString())

np.save(os.path.join(out, "x.npy"), rng.standard_normal((4, 3, 6, 5)).astype(np.float32))
m = rng.integers(0, 3, (4, 6, 5)).astype(np.int64)
m[0, 0, 0] = 255
m[1, 2, 3] = 255
m_u8 = m.astype(np.uint8)
np.save(os.path.join(out, "m_u8.npy"), m_u8)
m_strip = m_u8.copy()
m_strip[:, 0:2, :] = 255
np.save(os.path.join(out, "m_strip.npy"), m_strip)
m[m == 255] = -100
m[3, 5, 4] = -100
np.save(os.path.join(out, "m.npy"), m)
bad = m.copy()
bad[bad == -100] = 255
bad[2, 4, 1] = 3
np.save(os.path.join(out, "bad_class.npy"), bad)
np.save(os.path.join(out, "bad_shape.npy"), m.reshape(4, 5, 6))
np.save(os.path.join(out, "per_sample.npy"), np.array([0, 1, 2, 1], dtype=np.int64))

images = (rng.random((4, 6, 5, 3)) * 255).astype(np.uint8)
for i, name in enumerate("abcd"):
    os.makedirs(os.path.join(out, "folder", "images"), exist_ok=True)
    os.makedirs(os.path.join(out, "folder", "masks"), exist_ok=True)
    Image.fromarray(images[i], "RGB").save(os.path.join(out, "folder", "images", name + ".png"))
    mask = Image.fromarray(m_u8[i], "P")
    mask.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [224, 224, 192] * 253)
    mask.save(os.path.join(out, "folder", "masks", name + ".png"))
shutil.copytree(os.path.join(out, "folder"), os.path.join(out, "folder_missing"))
os.remove(os.path.join(out, "folder_missing", "masks", "c.png"))

for name, (h, w) in zip("abc", [(12, 10), (9, 7), (20, 16)]):
    for d in ("images", "masks"):
        os.makedirs(os.path.join(out, "folder_sizes", d), exist_ok=True)
    Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8), "RGB").save(
        os.path.join(out, "folder_sizes", "images", name + ".png"))
    ids = rng.integers(0, 3, (h, w)).astype(np.uint8)
    ids[0, 0] = 255
    Image.fromarray(ids, "L").save(os.path.join(out, "folder_sizes", "masks", name + ".png"))
for d in ("images", "masks"):
    os.makedirs(os.path.join(out, "folder_badsize", d), exist_ok=True)
Image.fromarray((rng.random((12, 10, 3)) * 255).astype(np.uint8), "RGB").save(
    os.path.join(out, "folder_badsize", "images", "a.png"))
Image.fromarray(np.zeros((4, 4), np.uint8), "L").save(os.path.join(out, "folder_badsize", "masks", "a.png"))
Image.fromarray((rng.random((12, 10, 3)) * 255).astype(np.uint8), "RGB").save(
    os.path.join(out, "folder_badsize", "images", "b.png"))
Image.fromarray(np.zeros((12, 10), np.uint8), "L").save(os.path.join(out, "folder_badsize", "masks", "b.png"))
np.save(os.path.join(out, "x_big.npy"), rng.standard_normal((4, 3, 12, 10)).astype(np.float32))
np.save(os.path.join(out, "m_big.npy"), rng.integers(0, 3, (4, 12, 10)).astype(np.uint8))

# seg_half.onnx: labels at half the images' size (a stride-2 conv 3x3, pad 1, to 3 classes:
# logits [2,3,3,3] for images [2,3,6,5]) with m_half.npy (4,3,3): transforms that resize or
# crop give masks their images' size, so lrc-run refuses them with this plan.
half_rng = np.random.default_rng(1)
wh = numpy_helper.from_array((half_rng.standard_normal((3, 3, 3, 3)) * 0.3).astype(np.float32), "wh")
half = helper.make_graph([helper.make_node("Conv", ["x", "wh"], ["logits"], name="half", pads=[1, 1, 1, 1],
                                           strides=[2, 2])], "seg_half",
                         [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 6, 5])],
                         [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [2, 3, 3, 3])], [wh])
with open(os.path.join(out, "seg_half.onnx"), "wb") as f:
    f.write(helper.make_model(half, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
np.save(os.path.join(out, "m_half.npy"), half_rng.integers(0, 3, (4, 3, 3)).astype(np.uint8))
