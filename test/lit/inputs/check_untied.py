"""Checks a --save-onnx output of models/tied_biases_eval.onnx: the Identity-tied biases came
back as separate initializers, each with its own trained values."""
import sys

import numpy as np
import onnx
import onnx.numpy_helper

model = onnx.load(sys.argv[1])
onnx.checker.check_model(model)
inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
print("identity nodes:", sum(n.op_type == "Identity" for n in model.graph.node))
biases = [inits[n] for n in ("conv1.bias", "conv2.bias", "fc.bias")]
print("biases trained:", all(np.abs(b).max() > 0 for b in biases))
print("biases distinct:", not np.array_equal(biases[1], biases[2]) and not np.array_equal(biases[0], biases[1]))
