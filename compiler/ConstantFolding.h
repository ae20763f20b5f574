// Constant folding at ONNX import. Exporters spell shape arithmetic as ops on constants:
// torch 1.13 builds the `pads` of F.pad / nn.ZeroPad2d from Constant, ConstantOfShape,
// Concat, Reshape, Slice, Transpose and Cast, and `x.view(x.size(0), -1)` from Shape, Gather,
// Unsqueeze and Concat. The IR has none of these ops: it wants the results as attributes.
// So before import, every node of a foldable op whose inputs are all constant is evaluated
// and replaced by a Constant node holding its output. Nodes on non-constant data stay as
// they are (and are then imported, or rejected as unsupported ops).
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ir/IR.h"

namespace lrc::compiler {

// A foldable node whose inputs are constant but do not make sense (an index out of range,
// shapes that do not match). `node()` indexes graph.node(), which folding leaves unchanged.
class FoldError : public ir::Error {
 public:
  FoldError(int node, const std::string& message) : ir::Error(message), node_(node) {}
  int node() const { return node_; }

 private:
  int node_;
};

// Whether the node's op type is one folding evaluates (default ONNX domain): Constant,
// ConstantOfShape, Concat, Reshape, Slice, Transpose, Cast, Unsqueeze, Squeeze, Gather,
// Shape, Add, Sub, Mul, Div, Range, Identity, Equal, Where.
bool isFoldableOp(const onnx::NodeProto& node);

// Folds `graph` in node order, in place: a folded node becomes a Constant node with the
// same name and output, so nodes keep their positions (and "Op#index" names). Constants are
// Constant node outputs, initializers that are not floating-point (those are trainable
// parameters: a Transpose of a weight is computed, not frozen), and folded outputs. Element
// types: float, double, int64, int32, bool; Add, Sub, Mul and Div fold integers only.
//
// Shape folds when its input's shape is static and known: a constant's, an initializer's,
// a graph input's as `inputShapes` gives it (the importer's, --batch and --input-shape
// applied), or a value_info's, which is trusted only when every graph input in
// `inputShapes` has the shape the model declares for it (the exporter's shapes are for the
// exporter's inputs). `valueShapes` adds the shapes of values computed by nodes, as the
// importer found them for those input shapes (a Shape of an intermediate map: torch's
// x.chunk and x.view(n, -1, h, w) export one), trusted like the inputs'.
//
// Throws FoldError for a foldable node it cannot evaluate.
void foldConstants(onnx::GraphProto& graph, int64_t opset,
                   const std::map<std::string, std::vector<int64_t>>& inputShapes,
                   const std::map<std::string, std::vector<int64_t>>& valueShapes = {});

// ONNX Reshape's target for an input of shape `in`: 0 copies the input's dimension (unless
// allowZero), -1 is inferred. Throws ir::Error when the sizes do not match.
std::vector<int64_t> resolveReshape(const std::vector<int64_t>& in,
                                    const std::vector<int64_t>& requested, bool allowZero);

// ONNX Slice's starts, ends, axes (none: 0, 1, ...) and steps (empty: all 1) on a tensor of
// shape `in`, clamped as the spec says: per listed axis (normalized), the first index, the step
// and the element count. Throws ir::Error when the lists do not fit the shape.
struct SliceAxis {
  int64_t axis, start, step, count;
};
std::vector<SliceAxis> resolveSlice(const std::vector<int64_t>& in, const std::vector<int64_t>& starts,
                                    const std::vector<int64_t>& ends, const std::optional<std::vector<int64_t>>& axesGiven,
                                    const std::vector<int64_t>& stepsGiven);

}  // namespace lrc::compiler
