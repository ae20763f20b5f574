"""What the small ONNX classifiers of these tests share (make_dropout_cnn.py,
make_threads_cnn.py): seeded float32 initializers and the checked save of a graph from one
image input to [batch, 10] logits."""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def weights(seed=0):
    """A function (name, shape, scale) -> a standard-normal initializer times scale, drawn in
    call order from one generator."""
    rng = np.random.default_rng(seed)

    def weight(name, shape, scale):
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)
    return weight


def constant(name, value, dtype=None):
    return numpy_helper.from_array(np.array(value, dtype), name)


def save_classifier(path, name, nodes, inits, image_shape, classes=10, opset=15):
    """Checks and writes the graph of `nodes` from input "image" to output "logits"."""
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("image", TensorProto.FLOAT, image_shape)],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [image_shape[0], classes])],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    onnx.save(model, path)
