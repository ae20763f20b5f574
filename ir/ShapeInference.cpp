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
// The first `count` operands (all but an accumulating op's accumulator).
// The operands are named (for the error message) only when the rule fails: the verifier
// infers every op after every pass, and printing every name was a tenth of a plan search.
std::vector<ops::TensorDesc> operandDescs(const Op& op, size_t count, bool named) {
  std::vector<ops::TensorDesc> operands;
  for (size_t i = 0; i < count; ++i) {
    const Value* v = op.operands[i];
    const TensorType t = fullType(*v);
    operands.push_back({toOps(t.dtype), t.shape, named ? printValueRef(*v) : std::string()});
  }
  return operands;
}

std::vector<TensorType> inferWhole(const Op& op, size_t count) {
  std::vector<ops::TensorDesc> results;
  try {
    results = ops::inferShapes(op.kind, operandDescs(op, count, false), OpAttrs(op));
  } catch (const ops::ShapeError&) {
    try {
      ops::inferShapes(op.kind, operandDescs(op, count, true), OpAttrs(op));
    } catch (const ops::ShapeError& e) {
      fail(op, e.what());
    }
    fail(op, "shape inference failed without its operands' names, and passed with them");
  }
  if (ops::isFusedOptimizerStep(op.kind))
    for (const Value* v : op.operands)
      if (!v->isGlobal()) fail(op, "updates globals only: the parameter and its optimizer state must be @values");
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
// An accumulating op (ops::canAccumulate, attribute accumulate=1) has no result: the one its
// rule gives is the type of its last operand, a global it adds into in place.
std::vector<TensorType> inferResultTypes(const Op& op) {
  if (op.accumulates()) {
    if (!ops::canAccumulate(op.kind)) fail(op, "has no accumulating form (attribute 'accumulate')");
    if (op.operands.empty() || op.has("band")) fail(op, "an accumulating op needs its accumulator as last operand and no 'band'");
    const Value* acc = op.operands.back();
    const std::vector<TensorType> types = inferWhole(op, op.operands.size() - 1);
    if (!acc->isGlobal()) fail(op, "accumulates into " + printValueRef(*acc) + ", which is not a global (@value)");
    if (types.size() != 1 || acc->type != types[0])
      fail(op, "accumulates into " + printValueRef(*acc) + " of type " + acc->type.str() + ", but produces " +
                   (types.empty() ? std::string("nothing") : types[0].str()));
    return {};
  }
  std::vector<TensorType> types = inferWhole(op, op.operands.size());
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
