#include "ir/ShapeInference.h"

#include <algorithm>

#include "ir/Printer.h"
#include "ops/Shapes.h"
#include "ops/Window.h"

namespace lrc::ir {

namespace {

[[noreturn]] void fail(const Op& op, const std::string& what) {
  throw Error(op.describe() + ": " + what, op.loc);
}

// An op's attributes as the shared rules read them: the IR's own accessors, whose errors name
// the op and its location.
class OpAttrs : public ops::AttrReader {
 public:
  explicit OpAttrs(const Op& op) : op_(op) {}
  bool has(std::string_view key) const override { return op_.has(std::string(key)); }
  int64_t integer(std::string_view key) const override { return op_.getInt(std::string(key)); }
  std::vector<int64_t> ints(std::string_view key) const override { return op_.getInts(std::string(key)); }
  double number(std::string_view key) const override { return op_.getFloat(std::string(key)); }
  std::vector<double> numbers(std::string_view key) const override { return op_.getFloats(std::string(key)); }

 private:
  const Op& op_;
};

ops::DType toOps(DType t) { return t == DType::I64 ? ops::DType::I64 : ops::DType::F32; }
DType fromOps(ops::DType t) { return t == ops::DType::I64 ? DType::I64 : DType::F32; }

// The rules of whole maps (ops/Shapes.h), applied to the whole maps band operands are part of.
std::vector<TensorType> inferWhole(const Op& op) {
  std::vector<ops::TensorDesc> operands;
  for (const Value* v : op.operands) {
    const TensorType t = fullType(*v);
    operands.push_back({toOps(t.dtype), t.shape, printValueRef(*v)});
  }
  std::vector<ops::TensorDesc> results;
  try {
    results = ops::inferShapes(op.kind, operands, OpAttrs(op));
  } catch (const ops::ShapeError& e) {
    fail(op, e.what());
  }
  if (ops::isOptimizerUpdate(op.kind))
    for (size_t i = 0; i < op.operands.size(); ++i)
      if (i != 1 && !op.operands[i]->isGlobal())
        fail(op, "updates globals only: the parameter and its optimizer state must be @values");
  std::vector<TensorType> types;
  for (const ops::TensorDesc& r : results) types.push_back({fromOps(r.dtype), r.shape});
  return types;
}

}  // namespace

ops::ResizeAxes resizeAxes(const Op& op) {
  const ops::Shape x = op.kind == OpKind::ResizeGrad ? op.getInts("input_shape") : fullType(*op.operands.at(0)).shape;
  if (x.size() != 4) fail(op, "resize needs a 4-D input map, got " + ops::shapeText(x));
  try {
    return ops::resizeAxes(OpAttrs(op), x);
  } catch (const ops::ShapeError& e) {
    fail(op, e.what());
  }
}

int64_t slidingOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t padBegin,
                          int64_t padEnd, int64_t dilation, bool ceilMode) {
  return ops::windowOutputSize({kernel, stride, padBegin, padEnd, dilation}, in, ceilMode);
}

// Band ops (docs/row-plans.md): the rules are those of whole maps, applied to the whole maps
// the bands are part of; result 0 is then cut to the op's `band`.
std::vector<TensorType> inferResultTypes(const Op& op) {
  std::vector<TensorType> types = inferWhole(op);
  if (op.has("band")) {
    const IntList& b = op.getInts("band");
    if (b.size() != 3 || types.empty() || types[0].shape.size() != 4)
      fail(op, "attribute 'band' must be [begin,end,height] on an op whose result is a 4-D map");
    if (b[2] != types[0].shape[2] || b[0] < 0 || b[1] <= b[0] || b[1] > b[2])
      fail(op, "band rows [" + std::to_string(b[0]) + ", " + std::to_string(b[1]) + ") of height " +
                   std::to_string(b[2]) + " do not fit the result " + types[0].str());
    types[0].shape[2] = b[1] - b[0];
  }
  return types;
}

}  // namespace lrc::ir
