// Decoding a validated plan's steps into prepared steps, and reading their attributes
// (runtime/PreparedStep.h).
#include "runtime/PreparedStep.h"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <stdexcept>
#include <string>

#include "ops/OpTable.h"
#include "runtime/kernels/Unary.h"

namespace lrc::runtime {

// The kernel lists and the op table's families name the same kinds: a unary functor whose kind
// ops::isUnaryPointwise does not list (the channels-last rewrite asks it), or the reverse
// (identity aside, which has no kernel of its own), does not compile; the binary list likewise.
#define LRC_COUNT_KERNEL(Forward, Grad, F) +1
#define LRC_CHECK_UNARY(Forward, Grad, F)                                     \
  static_assert(ops::isUnaryPointwise(ops::OpKind::Forward),                  \
                #Forward " has a unary kernel: list it in ops::isUnaryPointwise");
LRC_UNARY_KERNELS(LRC_CHECK_UNARY)
#define LRC_CHECK_BINARY(Forward, Grad, F)                                    \
  static_assert(ops::isBinaryElementwise(ops::OpKind::Forward),               \
                #Forward " has a binary kernel: list it in ops::isBinaryElementwise");
LRC_BINARY_KERNELS(LRC_CHECK_BINARY)
constexpr int countKinds(bool (*family)(ops::OpKind)) {
  int n = 0;
  for (size_t i = 0; i < ops::kOps.size(); ++i) n += family(static_cast<ops::OpKind>(i)) ? 1 : 0;
  return n;
}
static_assert(countKinds(ops::isUnaryPointwise) == 1 + (0 LRC_UNARY_KERNELS(LRC_COUNT_KERNEL)),
              "ops::isUnaryPointwise lists a kind without a unary kernel (identity is the one allowed)");
static_assert(countKinds(ops::isBinaryElementwise) == (0 LRC_BINARY_KERNELS(LRC_COUNT_KERNEL)),
              "ops::isBinaryElementwise lists a kind without a binary kernel");
#undef LRC_CHECK_BINARY
#undef LRC_CHECK_UNARY
#undef LRC_COUNT_KERNEL

const plan::Attr* findAttr(const plan::Step& step, std::string_view name) {
  for (const plan::Attr& a : step.attrs())
    if (a.name() == name) return &a;
  return nullptr;
}

bool runsOnRows(const plan::Plan& plan, const plan::Step& step) {
  auto band = [&](uint32_t index) { return plan.buffers(static_cast<int>(index)).height() > 0; };
  return findAttr(step, "rows") != nullptr || std::any_of(step.inputs().begin(), step.inputs().end(), band) ||
         std::any_of(step.outputs().begin(), step.outputs().end(), band);
}

namespace {
const plan::Attr& requireAttr(const plan::Step& step, std::string_view name) {
  const plan::Attr* a = findAttr(step, name);
  if (!a) throw std::runtime_error(step.kernel() + ": missing attribute '" + std::string(name) + "'");
  return *a;
}
}  // namespace

int64_t attrInt(const plan::Step& step, std::string_view name) {
  const plan::Attr& a = requireAttr(step, name);
  if (a.is_float() || a.ints_size() != 1)
    throw std::runtime_error(step.kernel() + ": attribute '" + std::string(name) + "' is not one integer");
  return a.ints(0);
}

double attrFloat(const plan::Step& step, std::string_view name) {
  const plan::Attr& a = requireAttr(step, name);
  if ((a.is_float() ? a.floats_size() : a.ints_size()) != 1)
    throw std::runtime_error(step.kernel() + ": attribute '" + std::string(name) + "' is not one number");
  return a.is_float() ? a.floats(0) : static_cast<double>(a.ints(0));
}

std::vector<int64_t> attrInts(const plan::Step& step, std::string_view name) {
  const plan::Attr& a = requireAttr(step, name);
  if (a.is_float()) throw std::runtime_error(step.kernel() + ": attribute '" + std::string(name) + "' is not integers");
  return {a.ints().begin(), a.ints().end()};
}

namespace {
[[noreturn]] void failAttr(std::string_view key, const std::string& what) {
  throw ops::ShapeError("attribute '" + std::string(key) + "' " + what);
}
}  // namespace

const plan::Attr& StepAttrs::get(std::string_view key) const {
  const plan::Attr* a = findAttr(step_, key);
  if (!a) throw ops::ShapeError("missing attribute '" + std::string(key) + "'");
  return *a;
}

int64_t StepAttrs::integer(std::string_view key) const {
  const std::vector<int64_t> v = ints(key);
  if (v.size() != 1) failAttr(key, "must have 1 value, got " + std::to_string(v.size()));
  return v[0];
}

std::vector<int64_t> StepAttrs::ints(std::string_view key) const {
  const plan::Attr& a = get(key);
  if (a.is_float()) failAttr(key, "must hold integers");
  return {a.ints().begin(), a.ints().end()};
}

double StepAttrs::number(std::string_view key) const {
  const plan::Attr& a = get(key);
  const int size = a.is_float() ? a.floats_size() : a.ints_size();
  if (size != 1) failAttr(key, "must have 1 value, got " + std::to_string(size));
  return a.is_float() ? a.floats(0) : static_cast<double>(a.ints(0));
}

std::vector<double> StepAttrs::numbers(std::string_view key) const {
  const plan::Attr& a = get(key);
  if (a.is_float()) return {a.floats().begin(), a.floats().end()};
  return {a.ints().begin(), a.ints().end()};
}

namespace {
std::vector<int64_t> attrIntsOfSize(const plan::Step& step, std::string_view name, size_t size) {
  std::vector<int64_t> v = attrInts(step, name);
  if (v.size() != size)
    throw std::runtime_error(step.kernel() + ": attribute '" + std::string(name) + "' must have " +
                             std::to_string(size) + " values");
  return v;
}

void setWindows(kernels::WindowAxis& h, kernels::WindowAxis& w, const plan::Step& step, bool dilation) {
  const std::vector<int64_t> stride = attrIntsOfSize(step, "stride", 2), pad = attrIntsOfSize(step, "pad", 4);
  h.stride = stride[0];
  w.stride = stride[1];
  h.padBegin = pad[0];
  w.padBegin = pad[1];
  h.padEnd = pad[2];
  w.padEnd = pad[3];
  if (dilation) {
    const std::vector<int64_t> d = attrIntsOfSize(step, "dilation", 2);
    h.dilation = d[0];
    w.dilation = d[1];
  }
}
}  // namespace

kernels::Conv2dParams convParams(const plan::Step& step, int64_t kernelH, int64_t kernelW) {
  kernels::Conv2dParams p;
  p.h.kernel = kernelH;
  p.w.kernel = kernelW;
  setWindows(p.h, p.w, step, true);
  p.group = attrInt(step, "group");
  p.winograd = findAttr(step, "winograd") && attrInt(step, "winograd") != 0;
  return p;
}

kernels::Pool2dParams poolParams(const plan::Step& step, bool average) {
  kernels::Pool2dParams p;
  const std::vector<int64_t> kernel = attrIntsOfSize(step, "kernel", 2);
  p.h.kernel = kernel[0];
  p.w.kernel = kernel[1];
  setWindows(p.h, p.w, step, !average);
  p.ceilMode = attrInt(step, "ceil_mode") != 0;
  if (average) p.countIncludePad = attrInt(step, "count_include_pad") != 0;
  return p;
}

kernels::PadParams padParams(const plan::Step& step) {
  kernels::PadParams p;
  const std::vector<int64_t> pads = attrIntsOfSize(step, "pads", 8);
  std::copy(pads.begin(), pads.end(), p.pads);
  p.value = static_cast<float>(attrFloat(step, "value"));
  return p;
}

kernels::ResizeParams resizeParams(const plan::Step& step, const Shape& x) {
  const ops::ResizeAxes a = ops::resizeAxes(StepAttrs(step), x);
  return {a.h, a.w};
}

namespace {

// The whole map a buffer is (part of): a band's shape with its map's height.
Shape mapShape(const StepBuffer& b) {
  Shape s = b.shape;
  if (b.height > 0) s[2] = b.height;
  return s;
}

StepBuffer stepBuffer(const plan::Plan& plan, uint32_t index) {
  const plan::Buffer& b = plan.buffers(static_cast<int>(index));
  return {b.offset(), b.bytes(), {b.shape().begin(), b.shape().end()}, b.row0(), b.height()};
}

// Gemm (or MatMul: no transposes, alpha = beta = 1): sizes from A and B, and how the C
// operand (validated to broadcast to [M, N]) is laid out: [] or one value, [N] or [1, N],
// [M, 1], or [M, N].
kernels::GemmParams gemmParams(const plan::Step& step, const PreparedStep& s, bool matmul) {
  const Shape &a = s.inputs[0].shape, &b = s.inputs[1].shape;
  kernels::GemmParams p;
  if (!matmul) {
    p.transA = attrInt(step, "transA") != 0;
    p.transB = attrInt(step, "transB") != 0;
    p.alpha = static_cast<float>(attrFloat(step, "alpha"));
    p.beta = static_cast<float>(attrFloat(step, "beta"));
  }
  p.M = p.transA ? a[1] : a[0];
  p.K = p.transA ? a[0] : a[1];
  p.N = p.transB ? b[0] : b[1];
  p.accumulate = s.accumulate;
  if (s.inputs.size() == 3) {
    const Shape& c = s.inputs[2].shape;
    if (elementsOf(c) == 1)
      p.bias = kernels::GemmBias::Scalar;
    else if (c.size() == 1 || c[0] == 1)
      p.bias = kernels::GemmBias::Row;
    else if (c[1] == 1)
      p.bias = kernels::GemmBias::Column;
    else
      p.bias = kernels::GemmBias::Full;
  }
  return p;
}

kernels::SoftmaxParams softmaxParams(const plan::Step& step, const Shape& x) {
  const auto axis = static_cast<size_t>(attrInt(step, "axis"));
  kernels::SoftmaxParams p;
  p.classes = x.at(axis);
  for (size_t i = axis + 1; i < x.size(); ++i) p.inner *= x[i];
  p.outer = elementsOf(x) / (p.classes * p.inner);
  return p;
}

// ONNX's BatchNormalization momentum (the weight of the old running value) becomes the
// kernels' PyTorch momentum (the weight of the batch statistic).
kernels::BatchNormParams batchNormParams(const plan::Step& step, bool grad) {
  kernels::BatchNormParams p;
  p.epsilon = static_cast<float>(attrFloat(step, "epsilon"));
  p.training = !findAttr(step, "training") || attrInt(step, "training") != 0;  // batchnorm_stats: always
  if (!grad) {
    p.momentum = static_cast<float>(1.0 - attrFloat(step, "momentum"));
    p.updateStats = !findAttr(step, "update_stats") || attrInt(step, "update_stats") != 0;
    p.sync = findAttr(step, "sync") && attrInt(step, "sync") != 0;
  }
  return p;
}

// x (operand 0, or the gradient's operand 1) as rows of the axes from `axis` on; with end <
// rank (the channel axis only, axis=1 end=2: the shape rule checks it) the groups are the pixels,
// laid out by the backend from the step's bands (runtime/LayerNormSteps.h).
kernels::LayerNormParams layerNormParams(const plan::Step& step, const Shape& x) {
  kernels::LayerNormParams p;
  p.epsilon = static_cast<float>(attrFloat(step, "epsilon"));
  p.channels = static_cast<size_t>(attrInt(step, "end")) < x.size();
  if (p.channels) return p;
  p.size = 1;
  for (size_t i = static_cast<size_t>(attrInt(step, "axis")); i < x.size(); ++i) p.size *= x[i];
  p.rows = elementsOf(x) / p.size;
  return p;
}

kernels::DropoutParams dropoutParams(const plan::Step& step) {
  kernels::DropoutParams p;
  p.ratio = static_cast<float>(attrFloat(step, "ratio"));
  p.seed = static_cast<uint64_t>(attrInt(step, "seed"));
  p.training = attrInt(step, "training") != 0;
  return p;
}

// The attributes F names (runtime/kernels/Unary.h), of its forward and gradient steps alike.
template <class F>
kernels::UnaryParams unaryParams(const plan::Step& step) {
  kernels::UnaryParams p;
  if constexpr (kernels::kHasUnaryParams<F>) {
    static_assert(std::size(F::kAttrs) <= std::size(p.values));
    for (size_t i = 0; i < std::size(F::kAttrs); ++i) p.values[i] = static_cast<float>(attrFloat(step, F::kAttrs[i]));
  }
  return p;
}

StepParams stepParams(const plan::Step& step, const PreparedStep& s) {
  switch (s.kernel) {
    case Kernel::Conv2d:
    case Kernel::Conv2dGradInput:
    case Kernel::ConvTranspose2d:
    case Kernel::ConvTranspose2dGradInput: {
      const Shape& w = s.inputs[1].shape;
      return convParams(step, w[2], w[3]);
    }
    case Kernel::Conv2dGradWeight:
    case Kernel::ConvTranspose2dGradWeight: {
      const std::vector<int64_t> k = attrInts(step, "kernel");
      return convParams(step, k.at(0), k.at(1));
    }
    case Kernel::MaxPool:
    case Kernel::MaxPoolGrad:
      return poolParams(step, false);
    case Kernel::AveragePool:
    case Kernel::AveragePoolGrad:
      return poolParams(step, true);
    case Kernel::Resize:
      return resizeParams(step, mapShape(s.inputs[0]));
    case Kernel::ResizeGrad:
      return resizeParams(step, attrInts(step, "input_shape"));
    case Kernel::Pad:
      return padParams(step);
    case Kernel::BatchNorm:
      return batchNormParams(step, false);
    case Kernel::BatchNormGrad:
      return batchNormParams(step, true);
    case Kernel::BatchNormStats:
      return batchNormParams(step, false);
    case Kernel::Gemm:
      return gemmParams(step, s, false);
    case Kernel::MatMul:
      return gemmParams(step, s, true);
    case Kernel::Softmax:
      return softmaxParams(step, s.inputs[0].shape);
    case Kernel::PixelXent:
    case Kernel::PixelXentGrad:
      return kernels::PixelXentParams{attrInt(step, "ignore_index")};
    case Kernel::Concat:
      return kernels::AxisParams{attrInt(step, "axis"), 0};
    case Kernel::Slice:
    case Kernel::SliceGrad:
      return kernels::AxisParams{attrInt(step, "axis"), attrInt(step, "start")};
    case Kernel::ChannelShuffle:
      return kernels::AxisParams{1, 0, attrInt(step, "groups")};
    case Kernel::Transpose:
      return kernels::TransposeParams{attrInts(step, "perm")};
    case Kernel::Dropout:
    case Kernel::DropoutGrad:
      return dropoutParams(step);
    case Kernel::AllreduceStart:
    case Kernel::AllreduceWait:
      return CollectiveParams{static_cast<int>(attrInt(step, "bucket"))};
#define LRC_BINARY_CASES(Forward, Grad, F) \
  case Kernel::Grad:                        \
    return kernels::BinaryGradParams{static_cast<int>(attrInt(step, "operand"))};
      LRC_BINARY_KERNELS(LRC_BINARY_CASES)
#undef LRC_BINARY_CASES
    case Kernel::ReduceMean:
    case Kernel::ReduceMeanGrad:
      return kernels::ReduceMeanParams{attrInts(step, "axes"), findAttr(step, "sum") && attrInt(step, "sum") != 0,
                                       findAttr(step, "input_shape") ? attrInts(step, "input_shape") : std::vector<int64_t>{}};
#define LRC_UNARY_CASES(Forward, Grad, F) \
  case Kernel::Forward:                    \
  case Kernel::Grad:                       \
    return unaryParams<F>(step);
      LRC_UNARY_KERNELS(LRC_UNARY_CASES)
#undef LRC_UNARY_CASES
    case Kernel::LayerNorm:
      return layerNormParams(step, s.inputs[0].shape);
    case Kernel::LayerNormGrad:
      return layerNormParams(step, s.inputs[1].shape);
    case Kernel::BatchNormApply:
    case Kernel::BatchNormApplyGrad: {
      kernels::BatchNormParams p;
      p.relu = findAttr(step, "relu") && attrInt(step, "relu") != 0;
      return p;
    }
    case Kernel::BatchNormStatsGrad:
    case Kernel::ChannelSum:
    case Kernel::GlobalAvgPool:
    case Kernel::GlobalAvgPoolGrad:
#define LRC_BINARY_CASES(Forward, Grad, F) case Kernel::Forward:
      LRC_BINARY_KERNELS(LRC_BINARY_CASES)
#undef LRC_BINARY_CASES
    case Kernel::SumTo:
    case Kernel::Flatten:
    case Kernel::Reshape:
    case Kernel::Identity:
    case Kernel::SoftmaxXent:
    case Kernel::SoftmaxXentGrad:
    case Kernel::RowsCopy:
    case Kernel::RowsSum:
    case Kernel::SgdUpdate:
    case Kernel::AdamwUpdate:
    case Kernel::SgdMomentumScale:
    case Kernel::SgdApply:
      return std::monostate{};
  }
  throw std::logic_error("stepParams: kernel " + std::to_string(static_cast<int>(s.kernel)));
}

std::vector<PreparedStep> prepareProgram(const plan::Plan& plan, const plan::Program& program) {
  std::vector<PreparedStep> steps;
  steps.reserve(static_cast<size_t>(program.steps_size()));
  for (const plan::Step& step : program.steps()) steps.push_back(prepareStep(plan, step));
  return steps;
}

}  // namespace

bool accumulates(const plan::Step& step) {
  // Never throws: the plan checks name a malformed attribute (StepChecker reads it again).
  const plan::Attr* a = findAttr(step, "accumulate");
  return a && !a->is_float() && a->ints_size() == 1 && a->ints(0) == 1;
}

plan::Step asKernelSees(const plan::Step& step) {
  if (!accumulates(step) || step.inputs_size() == 0 || step.outputs_size() != 0) return step;
  plan::Step s = step;
  s.add_outputs(s.inputs(s.inputs_size() - 1));
  s.mutable_inputs()->RemoveLast();
  return s;
}

PreparedStep prepareStep(const plan::Plan& plan, const plan::Step& written) {
  const plan::Step step = asKernelSees(written);
  const std::optional<Kernel> kernel = kernelByName(step.kernel());
  if (!kernel) throw std::runtime_error("unknown kernel '" + step.kernel() + "'");
  PreparedStep s;
  s.kernel = *kernel;
  s.accumulate = accumulates(step);
  for (uint32_t index : step.inputs()) s.inputs.push_back(stepBuffer(plan, index));
  for (uint32_t index : step.outputs()) s.outputs.push_back(stepBuffer(plan, index));
  if (step.scratch() >= 0) s.scratch = stepBuffer(plan, static_cast<uint32_t>(step.scratch()));
  s.byRows = runsOnRows(plan, step);
  if (findAttr(step, "rows")) {
    const std::vector<int64_t> rows = attrIntsOfSize(step, "rows", 2);
    s.rows = kernels::RowRange{rows[0], rows[1]};
  }
  s.params = stepParams(step, s);
  return s;
}

PreparedPlan preparePlan(const plan::Plan& plan) {
  return {prepareProgram(plan, plan.train()), prepareProgram(plan, plan.eval())};
}

}  // namespace lrc::runtime
