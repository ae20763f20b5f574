// torch's opset-13 export of F.layer_norm (opset 17 has LayerNormalization), found in an ONNX
// graph so that the importer gives both exports the same layer_norm op:
//   m = ReduceMean(x)      v = ReduceMean(p)      n = Div(d, s)
//   d = Sub(x, m)          e = Add(v, eps)        w = Mul(n, scale)    (either operand order)
//   p = Pow(d, exponent)   s = Sqrt(e)            y = Add(w, bias)     (either operand order)
// where every intermediate (m, d, p, v, e, s, n, w) is read only inside the pattern (d twice).
// This is the wiring only: the importer checks the values (both ReduceMeans over the same
// trailing axes with keepdims, exponent 2, eps a constant, scale and bias of the normalized
// shape) and imports the nodes one by one when they do not hold.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace lrc::compiler {

struct DecomposedLayerNorm {
  std::vector<size_t> nodes;  // the 9 nodes' indices in graph order; the last is the bias Add
  size_t firstMean = 0, secondMean = 0;  // the ReduceMean nodes
  std::string x, exponent, epsilon, scale, bias;
};

// The patterns of `graph`; `uses` counts each name's readers (nodes and graph outputs).
std::vector<DecomposedLayerNorm> findDecomposedLayerNorms(const onnx::GraphProto& graph,
                                                          const std::map<std::string, int>& uses);

}  // namespace lrc::compiler
