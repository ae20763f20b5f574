#include "ir/ShapeInference.h"

#include <algorithm>

#include "ops/Window.h"

namespace lrc::ir {

namespace {

[[noreturn]] void fail(const Op& op, const std::string& what) {
  throw Error(op.describe() + ": " + what, op.loc);
}

const TensorType& operandType(const Op& op, size_t i) { return op.operands.at(i)->type; }

void requireRank(const Op& op, size_t i, size_t rank, const char* role) {
  const TensorType& t = operandType(op, i);
  if (t.shape.size() != rank)
    fail(op, std::string(role) + " must have rank " + std::to_string(rank) + ", got " + t.str());
}

void requireF32(const Op& op, size_t i) {
  if (operandType(op, i).dtype != DType::F32)
    fail(op, "operand " + std::to_string(i) + " must be f32, got " + operandType(op, i).str());
}

// Checks a per-axis list attribute (stride, dilation, kernel: 2 values; pad: 4 values).
const IntList& listAttr(const Op& op, const std::string& key, size_t size, int64_t minValue) {
  const IntList& v = op.getInts(key);
  if (v.size() != size)
    fail(op, "attribute '" + key + "' must have " + std::to_string(size) + " values");
  for (int64_t x : v)
    if (x < minValue)
      fail(op, "attribute '" + key + "' values must be >= " + std::to_string(minValue));
  return v;
}

std::string dims(const std::vector<int64_t>& s) { return TensorType{DType::F32, s}.str().substr(3); }

// Output type of Conv/MaxPool/AveragePool over a 4-D input with a kh x kw window.
// Output type of Conv/MaxPool/AveragePool over a 4-D input of shape `x` with a kh x kw
// window. AveragePool has no dilation in ONNX opsets <= 18, so it passes {1, 1}.
TensorType windowOutput(const Op& op, const std::vector<int64_t>& x, int64_t channels,
                        int64_t kh, int64_t kw, bool ceilMode, const IntList& dilation) {
  const IntList& stride = listAttr(op, "stride", 2, 1);
  const IntList& pad = listAttr(op, "pad", 4, 0);
  int64_t oh = slidingOutputSize(x[2], kh, stride[0], pad[0], pad[2], dilation[0], ceilMode);
  int64_t ow = slidingOutputSize(x[3], kw, stride[1], pad[1], pad[3], dilation[1], ceilMode);
  if (oh <= 0 || ow <= 0)
    fail(op, "window " + std::to_string(kh) + "x" + std::to_string(kw) +
                 " does not fit the padded input " + TensorType{DType::F32, x}.str());
  return {DType::F32, {x[0], channels, oh, ow}};
}

// The convolution of an input of shape x with a weight of shape w, checked.
TensorType convOutput(const Op& op, const std::vector<int64_t>& x, const std::vector<int64_t>& w) {
  int64_t group = op.getInt("group");
  if (group < 1 || x[1] % group != 0 || w[0] % group != 0)
    fail(op, "group " + std::to_string(group) + " must divide input channels " +
                 std::to_string(x[1]) + " and output channels " + std::to_string(w[0]));
  if (w[1] * group != x[1])
    fail(op, "weight " + dims(w) + " expects " + std::to_string(w[1] * group) +
                 " input channels, input has " + std::to_string(x[1]));
  return windowOutput(op, x, w[0], w[2], w[3], false, listAttr(op, "dilation", 2, 1));
}

TensorType inferConv(const Op& op) {
  requireRank(op, 0, 4, "input");
  requireRank(op, 1, 4, "weight");
  requireF32(op, 0);
  requireF32(op, 1);
  const auto& w = operandType(op, 1).shape;
  if (op.operands.size() == 3) {
    requireRank(op, 2, 1, "bias");
    if (operandType(op, 2).shape[0] != w[0])
      fail(op, "bias has " + std::to_string(operandType(op, 2).shape[0]) + " values, expected " +
                   std::to_string(w[0]));
  }
  return convOutput(op, operandType(op, 0).shape, w);
}

TensorType poolOutput(const Op& op, const std::vector<int64_t>& x) {
  const IntList& kernel = listAttr(op, "kernel", 2, 1);
  bool ceilMode = op.getInt("ceil_mode") != 0;
  bool average = op.kind == OpKind::AveragePool || op.kind == OpKind::AveragePoolGrad;
  if (average) op.getInt("count_include_pad");
  return windowOutput(op, x, x[1], kernel[0], kernel[1], ceilMode,
                      average ? IntList{1, 1} : listAttr(op, "dilation", 2, 1));
}

TensorType inferPool(const Op& op) {
  requireRank(op, 0, 4, "input");
  requireF32(op, 0);
  return poolOutput(op, operandType(op, 0).shape);
}

TensorType inferPad(const Op& op) {
  const TensorType& x = operandType(op, 0);
  const IntList& pads = op.getInts("pads");
  size_t rank = x.shape.size();
  if (pads.size() != 2 * rank)
    fail(op, "attribute 'pads' must have " + std::to_string(2 * rank) + " values for " + x.str());
  op.getFloat("value");
  TensorType out = x;
  for (size_t i = 0; i < rank; ++i) {
    out.shape[i] += pads[i] + pads[i + rank];
    if (out.shape[i] <= 0) fail(op, "padding leaves axis " + std::to_string(i) + " empty");
  }
  return out;
}

TensorType inferBatchNorm(const Op& op) {
  requireF32(op, 0);
  const TensorType& x = operandType(op, 0);
  if (x.shape.size() < 2) fail(op, "input must have rank >= 2, got " + x.str());
  for (size_t i = 1; i < 5; ++i) {
    requireF32(op, i);
    const TensorType& t = operandType(op, i);
    if (t.shape != std::vector<int64_t>{x.shape[1]})
      fail(op, "operand " + std::to_string(i) + " must be f32[" + std::to_string(x.shape[1]) +
                   "], got " + t.str());
  }
  op.getFloat("epsilon");
  op.getFloat("momentum");
  op.getInt("training");
  return x;
}

// Numpy-style broadcasting of two shapes.
TensorType inferBroadcast(const Op& op) {
  const TensorType& a = operandType(op, 0);
  const TensorType& b = operandType(op, 1);
  if (a.dtype != b.dtype) fail(op, "operand types differ: " + a.str() + " and " + b.str());
  size_t rank = std::max(a.shape.size(), b.shape.size());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    auto dim = [&](const TensorType& t) {
      size_t off = rank - t.shape.size();
      return i < off ? int64_t{1} : t.shape[i - off];
    };
    int64_t da = dim(a), db = dim(b);
    if (da != db && da != 1 && db != 1)
      fail(op, "shapes " + a.str() + " and " + b.str() + " do not broadcast");
    out[i] = std::max(da, db);
  }
  return {a.dtype, out};
}

TensorType inferFlatten(const Op& op) {
  const TensorType& x = operandType(op, 0);
  int64_t axis = op.getInt("axis");
  int64_t rank = static_cast<int64_t>(x.shape.size());
  if (axis < 0 || axis > rank) fail(op, "axis " + std::to_string(axis) + " out of range for " + x.str());
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < rank; ++i) (i < axis ? outer : inner) *= x.shape[i];
  return {x.dtype, {outer, inner}};
}

TensorType inferReshape(const Op& op) {
  const TensorType& x = operandType(op, 0);
  const IntList& shape = op.getInts("shape");
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 1) fail(op, "attribute 'shape' must hold resolved positive sizes");
    n *= d;
  }
  if (n != x.numElements())
    fail(op, "cannot reshape " + x.str() + " to " + dims(shape));
  return {x.dtype, shape};
}

TensorType inferGemm(const Op& op) {
  requireRank(op, 0, 2, "A");
  requireRank(op, 1, 2, "B");
  requireF32(op, 0);
  requireF32(op, 1);
  const auto& a = operandType(op, 0).shape;
  const auto& b = operandType(op, 1).shape;
  bool ta = op.getInt("transA") != 0, tb = op.getInt("transB") != 0;
  op.getFloat("alpha");
  op.getFloat("beta");
  int64_t m = ta ? a[1] : a[0], ka = ta ? a[0] : a[1];
  int64_t kb = tb ? b[1] : b[0], n = tb ? b[0] : b[1];
  if (ka != kb)
    fail(op, "inner dimensions differ: A " + dims(a) + (ta ? " (transposed)" : "") + ", B " +
                 dims(b) + (tb ? " (transposed)" : ""));
  if (op.operands.size() == 3) {
    const auto& c = operandType(op, 2).shape;
    // C broadcasts unidirectionally to [M, N].
    bool ok = c.size() <= 2;
    for (size_t i = 0; ok && i < c.size(); ++i) {
      int64_t target = (c.size() == 2 && i == 0) ? m : n;
      ok = c[i] == 1 || c[i] == target;
    }
    if (!ok) fail(op, "C " + dims(c) + " does not broadcast to [" + std::to_string(m) + "," + std::to_string(n) + "]");
  }
  return {DType::F32, {m, n}};
}

TensorType inferMatMul(const Op& op) {
  requireRank(op, 0, 2, "A");
  requireRank(op, 1, 2, "B");
  const auto& a = operandType(op, 0).shape;
  const auto& b = operandType(op, 1).shape;
  if (a[1] != b[0]) fail(op, "inner dimensions differ: " + dims(a) + " x " + dims(b));
  return {DType::F32, {a[0], b[1]}};
}

TensorType inferDropout(const Op& op) {
  double ratio = op.getFloat("ratio");
  if (ratio < 0 || ratio >= 1) fail(op, "ratio must be in [0, 1)");
  op.getInt("seed");
  op.getInt("training");
  return operandType(op, 0);
}

TensorType inferSoftmax(const Op& op) {
  const TensorType& x = operandType(op, 0);
  int64_t axis = op.getInt("axis");
  if (axis < 0 || axis >= static_cast<int64_t>(x.shape.size()))
    fail(op, "axis " + std::to_string(axis) + " out of range for " + x.str());
  return x;
}

TensorType inferGlobalAvgPool(const Op& op) {
  requireRank(op, 0, 4, "input");
  const auto& x = operandType(op, 0).shape;
  return {DType::F32, {x[0], x[1], 1, 1}};
}

// --- training ops ----------------------------------------------------------------------

// A gradient must have exactly the type of the value it is the gradient of.
void requireSameType(const Op& op, size_t i, const TensorType& expected, const char* role) {
  if (operandType(op, i) != expected)
    fail(op, std::string(role) + " must be " + expected.str() + ", got " + operandType(op, i).str());
}

std::vector<int64_t> shapeAttr(const Op& op, const std::string& key, size_t rank) {
  const IntList& s = listAttr(op, key, rank, 1);
  return {s.begin(), s.end()};
}

TensorType inferSoftmaxXent(const Op& op) {
  requireRank(op, 0, 2, "logits");
  requireF32(op, 0);
  const TensorType& labels = operandType(op, 1);
  if (labels.dtype != DType::I64 || labels.shape != std::vector<int64_t>{operandType(op, 0).shape[0]})
    fail(op, "labels must be i64[" + std::to_string(operandType(op, 0).shape[0]) + "], got " +
                 labels.str());
  return op.kind == OpKind::SoftmaxXent ? TensorType{DType::F32, {}} : operandType(op, 0);
}

TensorType inferConvGradInput(const Op& op) {
  requireRank(op, 0, 4, "output gradient");
  requireRank(op, 1, 4, "weight");
  std::vector<int64_t> x = shapeAttr(op, "input_shape", 4);
  requireSameType(op, 0, convOutput(op, x, operandType(op, 1).shape), "output gradient");
  return {DType::F32, x};
}

TensorType inferConvGradWeight(const Op& op) {
  requireRank(op, 0, 4, "output gradient");
  requireRank(op, 1, 4, "input");
  const auto& x = operandType(op, 1).shape;
  std::vector<int64_t> kernel = shapeAttr(op, "kernel", 2);
  int64_t group = op.getInt("group");
  if (group < 1 || x[1] % group != 0) fail(op, "group must divide the input channels");
  std::vector<int64_t> w = {operandType(op, 0).shape[1], x[1] / group, kernel[0], kernel[1]};
  requireSameType(op, 0, convOutput(op, x, w), "output gradient");
  return {DType::F32, w};
}

TensorType inferPoolGrad(const Op& op) {
  requireRank(op, 0, 4, "output gradient");
  std::vector<int64_t> x;
  if (op.kind == OpKind::MaxPoolGrad) {
    requireRank(op, 1, 4, "input");
    x = operandType(op, 1).shape;
  } else {
    x = shapeAttr(op, "input_shape", 4);
  }
  TensorType y = op.kind == OpKind::GlobalAvgPoolGrad ? TensorType{DType::F32, {x[0], x[1], 1, 1}}
                                                      : poolOutput(op, x);
  requireSameType(op, 0, y, "output gradient");
  return {DType::F32, x};
}

std::vector<TensorType> inferBatchNormGrad(const Op& op) {
  const TensorType& x = operandType(op, 1);
  if (x.shape.size() < 2) fail(op, "input must have rank >= 2, got " + x.str());
  requireSameType(op, 0, x, "output gradient");
  TensorType perChannel{DType::F32, {x.shape[1]}};
  for (size_t i = 2; i < 5; ++i) requireSameType(op, i, perChannel, "per-channel operand");
  op.getFloat("epsilon");
  op.getInt("training");
  return {x, perChannel, perChannel};
}

TensorType inferChannelSum(const Op& op) {
  requireRank(op, 0, 4, "input");
  return {DType::F32, {operandType(op, 0).shape[1]}};
}

// sum_to reduces a broadcast result back to the shape it was broadcast from.
TensorType inferSumTo(const Op& op) {
  const TensorType& x = operandType(op, 0);
  const IntList& target = op.getInts("shape");
  if (target.size() > x.shape.size()) fail(op, "cannot sum " + x.str() + " to a higher rank");
  size_t off = x.shape.size() - target.size();
  for (size_t i = 0; i < target.size(); ++i)
    if (target[i] != 1 && target[i] != x.shape[off + i])
      fail(op, "cannot sum " + x.str() + " to " + dims(target));
  return {x.dtype, {target.begin(), target.end()}};
}

std::vector<TensorType> inferSgdUpdate(const Op& op) {
  const TensorType& p = operandType(op, 0);
  requireF32(op, 0);
  requireSameType(op, 1, p, "gradient");
  requireSameType(op, 2, p, "momentum buffer");
  if (!op.operands[0]->isGlobal() || !op.operands[2]->isGlobal())
    fail(op, "updates globals only: the parameter and its momentum buffer must be @values");
  return {};
}

}  // namespace

int64_t slidingOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t padBegin,
                          int64_t padEnd, int64_t dilation, bool ceilMode) {
  return ops::windowOutputSize({kernel, stride, padBegin, padEnd, dilation}, in, ceilMode);
}

namespace {

// rows_copy / rows_sum: bands (or whole maps) of one map, cut to the op's band.
TensorType inferRows(const Op& op) {
  const TensorType first = fullType(*op.operands[0]);
  if (first.shape.size() != 4 || first.dtype != DType::F32) fail(op, "sources must be f32 maps of rank 4, got " + first.str());
  for (size_t i = 1; i < op.operands.size(); ++i)
    if (fullType(*op.operands[i]) != first)
      fail(op, "source " + std::to_string(i) + " is part of a " + fullType(*op.operands[i]).str() + " map, not " + first.str());
  return first;
}

// pipeline_grad: result r is the gradient of operand grads[r] (operand 0 is dy).
std::vector<TensorType> inferPipelineGrad(const Op& op) {
  const IntList& grads = op.getInts("grads");
  std::vector<TensorType> types;
  for (int64_t i : grads) {
    if (i < 1 || i >= static_cast<int64_t>(op.operands.size()))
      fail(op, "attribute 'grads' names operand " + std::to_string(i) + " of " + std::to_string(op.operands.size()));
    types.push_back(op.operands[static_cast<size_t>(i)]->type);
  }
  return types;
}

std::vector<TensorType> inferWhole(const Op& op);

}  // namespace

// Band ops (docs/row-plans.md): the rules are those of whole maps, applied to the whole maps
// the bands are part of; result 0 is then cut to the op's `band`.
std::vector<TensorType> inferResultTypes(const Op& op) {
  const bool bandOperand = std::any_of(op.operands.begin(), op.operands.end(),
                                       [](const Value* v) { return v && bandOf(*v); });
  std::vector<TensorType> types;
  if (op.kind == OpKind::RowsCopy || op.kind == OpKind::RowsSum) {
    types = {inferRows(op)};
  } else if (!bandOperand) {
    types = inferWhole(op);
  } else {
    std::vector<Value> whole(op.operands.size());
    Op copy = op;
    for (size_t i = 0; i < op.operands.size(); ++i) {
      whole[i].kind = ValueKind::Input;
      whole[i].name = op.operands[i]->name;
      whole[i].type = fullType(*op.operands[i]);
      copy.operands[i] = &whole[i];
    }
    copy.results.clear();
    copy.attrs.erase("band");
    types = inferWhole(copy);
  }
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

namespace {

std::vector<TensorType> inferWhole(const Op& op) {
  OpArity arity = opArity(op.kind);
  int n = static_cast<int>(op.operands.size());
  if (n < arity.minOperands || n > arity.maxOperands)
    fail(op, "expects " +
                 (arity.minOperands == arity.maxOperands
                      ? std::to_string(arity.minOperands)
                      : std::to_string(arity.minOperands) + " to " + std::to_string(arity.maxOperands)) +
                 " operands, got " + std::to_string(n));
  switch (op.kind) {
    case OpKind::Conv2d: return {inferConv(op)};
    case OpKind::MaxPool:
    case OpKind::AveragePool: return {inferPool(op)};
    case OpKind::GlobalAvgPool: return {inferGlobalAvgPool(op)};
    case OpKind::Pad: return {inferPad(op)};
    case OpKind::BatchNorm: return {inferBatchNorm(op)};
    case OpKind::Add: return {inferBroadcast(op)};
    case OpKind::Flatten: return {inferFlatten(op)};
    case OpKind::Reshape: return {inferReshape(op)};
    case OpKind::Gemm: return {inferGemm(op)};
    case OpKind::MatMul: return {inferMatMul(op)};
    case OpKind::Dropout: return {inferDropout(op)};
    case OpKind::Softmax: return {inferSoftmax(op)};
    case OpKind::Relu:
      requireF32(op, 0);
      return {operandType(op, 0)};
    case OpKind::Identity: return {operandType(op, 0)};
    case OpKind::SoftmaxXent:
    case OpKind::SoftmaxXentGrad: return {inferSoftmaxXent(op)};
    case OpKind::Conv2dGradInput: return {inferConvGradInput(op)};
    case OpKind::Conv2dGradWeight: return {inferConvGradWeight(op)};
    case OpKind::ChannelSum: return {inferChannelSum(op)};
    case OpKind::ReluGrad:
      requireSameType(op, 1, operandType(op, 0), "forward result");
      return {operandType(op, 0)};
    case OpKind::MaxPoolGrad:
    case OpKind::AveragePoolGrad:
    case OpKind::GlobalAvgPoolGrad: return {inferPoolGrad(op)};
    case OpKind::BatchNormGrad: return inferBatchNormGrad(op);
    case OpKind::DropoutGrad: return {inferDropout(op)};
    case OpKind::SumTo: return {inferSumTo(op)};
    case OpKind::SgdUpdate: return inferSgdUpdate(op);
    case OpKind::RowsCopy:
    case OpKind::RowsSum: return {inferRows(op)};
    case OpKind::PipelineGrad: return inferPipelineGrad(op);
  }
  fail(op, "no shape rule");
}

}  // namespace

}  // namespace lrc::ir
