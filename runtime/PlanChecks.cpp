// The checks of a decoded plan before anything runs (runtime/PlanChecks.h): buffers, io,
// inits, optimizer (its kind, hyper-parameters, and that every update step is its), and each step of both programs (StepChecker: indices, attributes, bands,
// the operand and result types by the op's shape rule (ops/Shapes.h, the one shape inference
// the IR uses too), then what the kernel needs beyond it: rows its bands hold, scratch,
// overlaps).
#include "runtime/PlanChecks.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>

#include "ops/Optimizer.h"
#include "ops/Scratch.h"
#include "ops/Shapes.h"
#include "runtime/PreparedStep.h"
#include "runtime/kernels/Conv.h"
#include "runtime/kernels/Pad.h"
#include "runtime/kernels/Pool.h"
#include "runtime/kernels/Resize.h"
#include "runtime/kernels/Unary.h"
#include "runtime/plan/PlanFile.h"

namespace lrc::runtime {

namespace {

using plan::Buffer;
using plan::DType;
using plan::Step;

// Elements of one buffer are bounded as the shape rules bound them (ops/Shapes.h), so that
// every size computation stays far from int64 overflow.
using ops::kMaxElements;
using ops::shapeText;
constexpr int kMaxRank = 8;

std::string typeText(DType dtype, const Shape& s) {
  return ops::typeText(dtype == plan::I64 ? ops::DType::I64 : ops::DType::F32, s);
}

Shape shapeOf(const Buffer& b) { return {b.shape().begin(), b.shape().end()}; }

// ---- row bands (plan.proto's Buffer.row0/height; geometry checked by PlanValidator) ----
bool isBand(const Buffer& b) { return b.height() > 0; }

// The whole tensor a buffer is part of: its own shape, with a band's full height.
Shape mapOf(const Buffer& b) {
  Shape s = shapeOf(b);
  if (isBand(b)) s[2] = b.height();
  return s;
}

// The rows a rank-4 buffer holds: a band's, or all of a whole map's.
kernels::RowRange rowsOf(const Buffer& b) {
  const int64_t row0 = isBand(b) ? b.row0() : 0;
  return {row0, row0 + b.shape(2)};
}

std::string rangeText(kernels::RowRange r) {
  std::string text = "[";
  return text.append(std::to_string(r.begin)).append(", ").append(std::to_string(r.end)).append(")");
}

// Type and, for a band, its rows: "f32[2,4,3,9] rows [2,5) of 12".
std::string typeOf(const Buffer& b) { return plan::bufferType(b) + plan::bandText(b); }

// Whether two buffers (already checked to lie inside the arena) share a byte.
bool overlaps(const Buffer& a, const Buffer& b) {
  return a.bytes() > 0 && b.bytes() > 0 && a.offset() < b.offset() + b.bytes() && b.offset() < a.offset() + a.bytes();
}

std::string numberText(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}

// Checks of one step. `where` reads "train step #12 (conv2d '/features/Conv')".
class StepChecker {
 public:
  // An accumulating step is checked as its kernel sees it (asKernelSees): the tensor it adds
  // into as its result.
  StepChecker(const plan::Plan& plan, const Step& step, std::string where, const std::string& path)
      : plan_(plan), written_(step), step_(asKernelSees(step)), where_(std::move(where)), path_(path) {}

  void check(const Backend& backend) {
    std::optional<Kernel> kernel = kernelByName(step_.kernel());
    if (!kernel) fail("unknown kernel '" + step_.kernel() + "'");
    if (findAttr(written_, "accumulate")) {
      const int64_t a = ints("accumulate", 1, 0, 1)[0];
      if (a == 1 && !ops::canAccumulate(opKind(*kernel)))
        fail("kernel '" + step_.kernel() + "' has no accumulating form (attribute 'accumulate')");
      if (a == 1 && (written_.outputs_size() != 0 || written_.inputs_size() == 0))
        fail("an accumulating step has no results: it adds into its last operand");
    }
    if (!backend.supports(*kernel))
      fail("the " + backend.name() + " backend has no kernel '" + step_.kernel() + "'");
    checkIndices();
    checkAttrs();
    checkBandUse(*kernel);
    checkTypes(*kernel);
    checkKernel(*kernel);
    checkNoOverlap();
  }

 private:
  const plan::Plan& plan_;
  const Step& written_;  // as the plan lists it
  const Step step_;      // as the kernel sees it
  std::string where_;
  const std::string& path_;

  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(path_ + ": " + where_ + ": " + what);
  }

  const Buffer& buffer(uint32_t index) const { return plan_.buffers(static_cast<int>(index)); }
  std::string describe(uint32_t index) const {
    return std::string("#").append(std::to_string(index)).append(" '").append(buffer(index).name()).append("'");
  }
  const Buffer& in(int i) const { return buffer(step_.inputs(i)); }
  const Buffer& out(int i) const { return buffer(step_.outputs(i)); }

  void checkIndices() const {
    const int64_t n = plan_.buffers_size();
    for (uint32_t index : step_.inputs())
      if (index >= n)
        fail("operand buffer #" + std::to_string(index) + " does not exist (" + std::to_string(n) + " buffers)");
    for (uint32_t index : step_.outputs())
      if (index >= n)
        fail("result buffer #" + std::to_string(index) + " does not exist (" + std::to_string(n) + " buffers)");
    if (step_.scratch() < -1 || step_.scratch() >= n)
      fail("scratch buffer #" + std::to_string(step_.scratch()) + " does not exist (" + std::to_string(n) +
           " buffers)");
  }

  void checkAttrs() const {
    std::set<std::string> seen;
    for (const plan::Attr& a : step_.attrs()) {
      if (!seen.insert(a.name()).second) fail("attribute '" + a.name() + "' is given twice");
      if (a.is_float() ? a.ints_size() != 0 : a.floats_size() != 0)
        fail("attribute '" + a.name() + "' holds both ints and floats");
    }
  }

  // ---- attributes (the shape rule checks each one it reads) ----
  std::vector<int64_t> ints(const std::string& name, int count, int64_t lo, int64_t hi) const {
    const plan::Attr* a = findAttr(step_, name);
    if (!a) fail("missing attribute '" + name + "'");
    if (a->is_float()) fail("attribute '" + name + "' must hold integers");
    if (count >= 0 && a->ints_size() != count)
      fail("attribute '" + name + "' must have " + std::to_string(count) + " values, got " +
           std::to_string(a->ints_size()));
    for (int64_t v : a->ints())
      if (v < lo || v > hi)
        fail("attribute '" + name + "' value " + std::to_string(v) + " is outside [" + std::to_string(lo) + ", " +
             std::to_string(hi) + "]");
    return {a->ints().begin(), a->ints().end()};
  }

  // ---- types ----
  // Shapes are compared as whole maps (mapOf): a band's rows are checked by needRows.
  void expect(const Buffer& b, const std::string& role, DType dtype, const Shape& shape) const {
    if (b.dtype() != dtype || mapOf(b) != shape)
      fail(role + " '" + b.name() + "' is " + typeOf(b) + ", expected " + typeText(dtype, shape));
  }
  void expectF32(const Buffer& b, const std::string& role, int rank) const {
    if (b.dtype() != plan::F32) fail(role + " '" + b.name() + "' is " + plan::bufferType(b) + ", expected f32");
    if (rank >= 0 && b.shape_size() != rank)
      fail(role + " '" + b.name() + "' is " + plan::bufferType(b) + ", expected rank " + std::to_string(rank));
  }
  void expectSame(const Buffer& b, const std::string& role, const Buffer& like) const {
    expect(b, role, like.dtype(), mapOf(like));
  }

  // The scratch a step uses: present, f32, at least `bytes` bytes.
  void expectScratchBytes(ops::Checked checked, const std::string& what) const {
    const std::optional<int64_t> counted = checked.value();
    if (!counted) fail(what + " would be more bytes than int64 counts");
    const auto bytes = static_cast<uint64_t>(*counted);
    if (bytes == 0) return;
    if (step_.scratch() < 0)
      fail("needs " + std::to_string(bytes) + " bytes of scratch (" + what + "), the plan gives none");
    const Buffer& s = buffer(static_cast<uint32_t>(step_.scratch()));
    if (s.bytes() < bytes)
      fail("scratch " + describe(static_cast<uint32_t>(step_.scratch())) + " holds " + std::to_string(s.bytes()) +
           " bytes, " + what + " needs " + std::to_string(bytes));
  }
  // For `outRows` rows of an output of width `outW`.
  void expectConvScratch(const kernels::Conv2dParams& p, int64_t inChannels, int64_t outW, int64_t outRows) const {
    expectScratchBytes(ops::convWorkspaceFloats(p.h, p.w, p.group, inChannels, outW, outRows, p.scratchCapBytes) * 4,
                       "the convolution's im2col matrix");
  }

  // ---- rows ----
  bool byRows() const { return runsOnRows(plan_, step_); }
  // Bands and `rows` only where a kernel takes them; a band only of rank-4 f32 (checked per
  // buffer), so the shape checks below may index its dims.
  void checkBandUse(Kernel kernel) const {
    // Where a kernel takes row bands (docs/plan-format.md, "Row bands"): the op table's band
    // slots, the maps it reads and writes by rows; weights, statistics and parameter gradients
    // are whole tensors.
    const ops::OpInfo& slots = kernelInfo(kernel);
    if (findAttr(step_, "rows") && !slots.takesRows) fail("attribute 'rows' is only for backward kernels of row plans");
    auto check = [&](uint32_t index, bool allowed, const std::string& place) {
      if (!allowed && isBand(buffer(index)))
        fail("kernel '" + step_.kernel() + "' takes no row band as " + place + ": " + describe(index) + " is " +
             typeOf(buffer(index)));
    };
    for (int i = 0; i < step_.inputs_size(); ++i) check(step_.inputs(i), i < slots.bandOperands, "operand " + std::to_string(i));
    for (int i = 0; i < step_.outputs_size(); ++i)
      check(step_.outputs(i), i == 0 && slots.bandResult, "result " + std::to_string(i));
  }
  // `b` holds rows `needed`, which `why` reads or reaches: the error names both.
  void needRows(const Buffer& b, const std::string& role, kernels::RowRange needed, const std::string& why) const {
    if (needed.empty()) return;
    const kernels::RowRange held = rowsOf(b);
    if (needed.begin < held.begin || needed.end > held.end)
      fail(role + " '" + b.name() + "' holds rows " + rangeText(held) + ", " + why + " rows " + rangeText(needed));
  }
  // `b` (a map a sliding window runs over) holds the rows the window reads for output rows `r`.
  void needWindowRows(const Buffer& b, const std::string& role, const kernels::WindowAxis& h, kernels::RowRange r,
                      const std::string& why) const {
    needRows(b, role, kernels::window_input_rows(h, r.begin, r.end, mapOf(b)[2]), why);
  }
  // `x` (a transposed convolution's input-shaped map, or its gradient) holds the rows whose
  // taps reach rows `r` of its output-shaped map; the scratch covers those rows.
  void needTransposedRows(const Buffer& x, const std::string& role, const kernels::Conv2dParams& p,
                          int64_t outChannels, kernels::RowRange r, const std::string& why) const {
    const kernels::RowRange rows = kernels::transposed_input_rows(p.h, r.begin, r.end, mapOf(x)[2]);
    needRows(x, role, rows, why);
    expectConvScratch(p, outChannels, mapOf(x)[3], rows.size());
  }
  // The rows a forward step computes: its result's.
  kernels::RowRange resultRows() const { return rowsOf(out(0)); }
  std::string resultRowsText() const { return "the result rows " + rangeText(resultRows()) + " read"; }
  // The rows of the output gradient `dy` a backward step propagates: its attribute `rows`
  // (inside the rows dy holds), or all of dy's rows.
  kernels::RowRange gradRows(const Buffer& dy) const {
    if (!findAttr(step_, "rows")) return rowsOf(dy);
    if (dy.shape_size() != 4)
      fail("attribute 'rows' needs an output gradient of rank 4, '" + dy.name() + "' is " + plan::bufferType(dy));
    const Shape r = ints("rows", 2, 0, mapOf(dy)[2]);
    if (r[0] > r[1]) fail("attribute 'rows' " + rangeText({r[0], r[1]}) + " is not a row range");
    needRows(dy, "output gradient", {r[0], r[1]}, "attribute 'rows' names");
    return {r[0], r[1]};
  }
  std::string gradRowsText(kernels::RowRange r) const { return "the output gradient rows " + rangeText(r) + " reach"; }

  // A training-mode BatchNorm step on row bands normalizes exactly the rows its bands hold:
  // input, result (and dy) hold the same rows, and `rows`, if given, is them.
  void sameRowsForStripStatistics(bool grad) const {
    const kernels::RowRange r = rowsOf(in(grad ? 1 : 0));
    auto same = [&](const Buffer& b, const char* what) {
      const kernels::RowRange h = rowsOf(b);
      if (h.begin != r.begin || h.end != r.end)
        fail(std::string("training-mode batch statistics on row bands: the ") + what + " '" + b.name() + "' (" +
             typeOf(b) + ") must hold the input's rows [" + std::to_string(r.begin) + ", " + std::to_string(r.end) + ")");
    };
    same(out(0), grad ? "input gradient" : "result");
    if (grad) {
      same(in(0), "output gradient");
      const kernels::RowRange g = gradRows(in(0));
      if (g.begin != r.begin || g.end != r.end)
        fail("training-mode batch statistics on row bands: rows must be the input's rows [" + std::to_string(r.begin) +
             ", " + std::to_string(r.end) + ")");
    }
  }


  // ---- operand and result types: the op's shape rule (ops/Shapes.h), on whole maps ----
  ops::TensorDesc desc(const Buffer& b) const {
    return {b.dtype() == plan::I64 ? ops::DType::I64 : ops::DType::F32, mapOf(b), "'" + b.name() + "'"};
  }
  void checkTypes(Kernel kernel) const {
    std::vector<ops::TensorDesc> operands;
    for (int i = 0; i < step_.inputs_size(); ++i) operands.push_back(desc(in(i)));
    std::vector<ops::TensorDesc> results;
    try {
      results = ops::inferShapes(opKind(kernel), operands, StepAttrs(step_));
    } catch (const ops::ShapeError& e) {
      fail(e.what());
    }
    if (step_.outputs_size() != static_cast<int>(results.size()))
      fail("expects " + std::to_string(results.size()) + " results, got " + std::to_string(step_.outputs_size()));
    for (size_t i = 0; i < results.size(); ++i)
      expect(out(static_cast<int>(i)), "result", results[i].dtype == ops::DType::I64 ? plan::I64 : plan::F32,
             results[i].shape);
  }

  // ---- what a kernel needs beyond its shape rule: the rows its bands hold, its scratch ----
  void checkKernel(Kernel kernel) const {
    switch (kernel) {
      case Kernel::Conv2d: {
        const Shape x = mapOf(in(0)), w = shapeOf(in(1));
        const kernels::Conv2dParams p = convParams(step_, w[2], w[3]);
        const kernels::RowRange r = resultRows();
        needWindowRows(in(0), "input", p.h, r, resultRowsText());
        return expectConvScratch(p, x[1], shapeOf(out(0))[3], r.size());
      }
      case Kernel::Conv2dGradInput: {
        const Shape w = shapeOf(in(1)), x = mapOf(out(0));
        const kernels::Conv2dParams p = convParams(step_, w[2], w[3]);
        const kernels::RowRange r = gradRows(in(0));
        needWindowRows(out(0), "result", p.h, r, gradRowsText(r));
        return expectConvScratch(p, x[1], shapeOf(in(0))[3], r.size());
      }
      case Kernel::Conv2dGradWeight: {
        const Shape x = mapOf(in(1)), w = shapeOf(out(0));
        const kernels::Conv2dParams p = convParams(step_, w[2], w[3]);
        const kernels::RowRange r = gradRows(in(0));
        needWindowRows(in(1), "input", p.h, r, gradRowsText(r));
        return expectConvScratch(p, x[1], shapeOf(in(0))[3], r.size());
      }
      case Kernel::ConvTranspose2d: {
        const Shape w = shapeOf(in(1));
        const kernels::RowRange r = resultRows();
        return needTransposedRows(in(0), "input", convParams(step_, w[2], w[3]), mapOf(out(0))[1], r,
                                  "the result rows " + rangeText(r) + " reach");
      }
      case Kernel::ConvTranspose2dGradInput: {
        const Shape w = shapeOf(in(1));
        const kernels::RowRange r = gradRows(in(0));
        return needTransposedRows(out(0), "result", convParams(step_, w[2], w[3]), mapOf(in(0))[1], r,
                                  gradRowsText(r));
      }
      case Kernel::ConvTranspose2dGradWeight: {
        const Shape w = shapeOf(out(0));
        const kernels::RowRange r = gradRows(in(0));
        return needTransposedRows(in(1), "input", convParams(step_, w[2], w[3]), mapOf(in(0))[1], r,
                                  gradRowsText(r));
      }
      case Kernel::ChannelSum:
        gradRows(in(0));
        return;
      case Kernel::MaxPool:
      case Kernel::AveragePool: {
        const kernels::Pool2dParams p = poolParams(step_, kernel == Kernel::AveragePool);
        const kernels::RowRange r = resultRows();
        return needWindowRows(in(0), "input", p.h, r, resultRowsText());
      }
      case Kernel::MaxPoolGrad: {
        const kernels::Pool2dParams p = poolParams(step_, false);
        const kernels::RowRange r = gradRows(in(0));
        needWindowRows(in(1), "input", p.h, r, gradRowsText(r));
        return needWindowRows(out(0), "result", p.h, r, gradRowsText(r));  // the same map as the input
      }
      case Kernel::AveragePoolGrad: {
        const kernels::Pool2dParams p = poolParams(step_, true);
        const kernels::RowRange r = gradRows(in(0));
        return needWindowRows(out(0), "result", p.h, r, gradRowsText(r));
      }
      case Kernel::Resize: {
        const kernels::RowRange r = resultRows();
        return needRows(in(0), "input", kernels::resize_input_rows(resizeParams(step_, mapOf(in(0))), r.begin, r.end),
                        resultRowsText());
      }
      case Kernel::ResizeGrad: {
        const kernels::RowRange r = gradRows(in(0));
        return needRows(out(0), "result", kernels::resize_input_rows(resizeParams(step_, mapOf(out(0))), r.begin, r.end),
                        gradRowsText(r));
      }
      case Kernel::Pad: {
        expectF32(in(0), "input", 4);  // the kernel pads maps of rank 4
        const kernels::RowRange r = resultRows();
        return needRows(in(0), "input", kernels::pad_input_rows(padParams(step_), r.begin, r.end, mapOf(in(0))[2]),
                        resultRowsText());
      }
      case Kernel::BatchNorm:
      case Kernel::BatchNormGrad: {
        const bool grad = kernel == Kernel::BatchNormGrad;
        if (attrInt(step_, "training") == 0) return elementwiseRows(kernel);
        // Training mode on bands (--bn strip): the statistics of exactly the band's rows.
        if (byRows()) sameRowsForStripStatistics(grad);
        expectScratchBytes(ops::batchNormScratchBytes(grad, in(grad ? 1 : 0).shape(1)), "the batch statistics");
        return elementwiseRows(kernel);
      }
      case Kernel::BatchNormStats: return;  // whole maps (the table's band slots say so)
      case Kernel::BatchNormStatsGrad:
        // On a band (a recomputed reduction point's backward strip): x and acc hold its rows.
        if (byRows())
          for (int i : {0, 5})
            if (i < step_.inputs_size()) needRows(in(i), "operand", resultRows(), resultRowsText());
        return;
      case Kernel::BatchNormApply:
      case Kernel::BatchNormApplyGrad: return elementwiseRows(kernel);
#define LRC_BINARY_CASES(Forward, Grad, F) \
  case Kernel::Forward:                     \
  case Kernel::Grad:
        LRC_BINARY_KERNELS(LRC_BINARY_CASES)
#undef LRC_BINARY_CASES
        return binaryRows(kernel);
      case Kernel::Concat:
      case Kernel::Slice:
      case Kernel::SliceGrad:
        // On rows the axis is the channels: every band is of the same rows.
        if (byRows() && attrInt(step_, "axis") != 1)
          fail("attribute 'axis' is " + std::to_string(attrInt(step_, "axis")) + "; on row bands it must be 1 (channels)");
        return elementwiseRows(kernel);
      case Kernel::ChannelShuffle: return elementwiseRows(kernel);
      case Kernel::LayerNorm:
      case Kernel::LayerNormGrad:
        // On rows only over the channels (the shape rule allows end < rank as axis=1, end=2 only).
        if (byRows() && attrInt(step_, "end") != 2) fail("on row bands layer_norm needs end=2 (the channel axis only)");
        return elementwiseRows(kernel);
#define LRC_UNARY_CASES(Forward, Grad, F) \
  case Kernel::Forward:                    \
  case Kernel::Grad:
        LRC_UNARY_KERNELS(LRC_UNARY_CASES)
#undef LRC_UNARY_CASES
      case Kernel::Identity:
      case Kernel::Dropout:
      case Kernel::DropoutGrad: return elementwiseRows(kernel);
      case Kernel::ReduceMean:
      case Kernel::ReduceMeanGrad: {
        // On a band (a recomputed SE mean's strips): x's rows summed, or dx's rows of the
        // broadcast; the rows must be among the reduced axes (the other side is whole).
        if (!byRows()) return;
        const std::vector<int64_t> axes = attrInts(step_, "axes");
        if (std::find(axes.begin(), axes.end(), 2) == axes.end())
          fail("on a row band " + step_.kernel() + " must reduce axis 2 (the rows), 'axes' is " + ops::shapeText(axes));
        return;
      }
      case Kernel::GlobalAvgPool:
      case Kernel::GlobalAvgPoolGrad:
      case Kernel::Flatten:
      case Kernel::Reshape:
      case Kernel::Transpose:
      case Kernel::Gemm:
      case Kernel::MatMul:
      case Kernel::Softmax:
      case Kernel::PixelXentGrad:
        // On a band of the logits (the loss in a row pipeline): the gradient of the same rows.
        if (byRows() && (rowsOf(out(0)).begin != rowsOf(in(0)).begin || rowsOf(out(0)).end != rowsOf(in(0)).end))
          fail("result '" + out(0).name() + "' holds rows " + rangeText(rowsOf(out(0))) + ", the logits '" +
               in(0).name() + "' rows " + rangeText(rowsOf(in(0))) + ": the gradient has the logits' rows");
        return;
      case Kernel::SoftmaxXent:
      case Kernel::SoftmaxXentGrad:
      case Kernel::PixelXent:
      case Kernel::SumTo:
      case Kernel::SgdUpdate:
      case Kernel::AdamwUpdate:
      case Kernel::SgdMomentumScale:
      case Kernel::SgdApply:
      case Kernel::AllreduceStart:
      case Kernel::AllreduceWait:
      case Kernel::RowsCopy:
      case Kernel::RowsSum: return;  // whole tensors, or (rows_*) any rows of one map
    }
  }

  // Element-wise kernels on rows (the table's row rule Same): a forward step reads its result's
  // rows of every row-indexed operand; a backward one propagates dy rows `rows` and reads and
  // writes the same rows of its other bands.
  void elementwiseRows(Kernel kernel) const {
    const ops::OpInfo& op = kernelInfo(kernel);
    if (op.rowRule != ops::RowRule::Same || !byRows()) return;
    const int bands = std::min(op.bandOperands, step_.inputs_size());
    if (op.role == ops::Role::Forward) {
      for (int i = 0; i < bands; ++i) needRows(in(i), "operand", resultRows(), resultRowsText());
      return;
    }
    const kernels::RowRange r = gradRows(in(0));
    for (int i = 1; i < bands; ++i) needRows(in(i), "operand", r, gradRowsText(r));
    needRows(out(0), "result", r, gradRowsText(r));
  }

  // The binary family on rows (runtime/ElementLoops.h): every operand and the result is a band
  // (or the whole) of one map holding the rows the step computes or propagates, or a whole
  // per-channel tensor broadcast over the rows (its H and W are 1: [N,C,1,1], [C,1,1]); no
  // other broadcasting on rows.
  void binaryRows(Kernel kernel) const {
    if (!byRows()) return;
    const bool grad = kernelInfo(kernel).role == ops::Role::Backward;
    const Buffer& mapBuffer = grad ? in(0) : out(0);
    const Shape map = mapOf(mapBuffer);
    const kernels::RowRange r = grad ? gradRows(mapBuffer) : resultRows();
    const std::string why = grad ? gradRowsText(r) : resultRowsText();
    auto check = [&](const Buffer& b, const std::string& role) {
      if (isBand(b) || mapOf(b) == map) return needRows(b, role, r, why);
      if (!ops::isRowBroadcast(shapeOf(b), map))
        fail(role + " '" + b.name() + "' is " + typeOf(b) + ": on rows, only a band of the map " + ops::shapeText(map) +
             " or a per-channel tensor (H = W = 1) broadcast over its rows");
    };
    const int inputs = step_.inputs_size();
    for (int i = 0; i < inputs; ++i) check(in(i), "operand");
    check(out(0), "result");
  }

  // Kernels never run in place: a result or the scratch must not share bytes with an
  // operand or with each other (the in-place updates of the optimizers and of the BatchNorm
  // running statistics are of operands, not results).
  void checkNoOverlap() const {
    std::vector<uint32_t> written(step_.outputs().begin(), step_.outputs().end());
    if (step_.scratch() >= 0) written.push_back(static_cast<uint32_t>(step_.scratch()));
    auto overlap = [&](uint32_t x, uint32_t y) { return overlaps(buffer(x), buffer(y)); };
    for (size_t i = 0; i < written.size(); ++i) {
      for (uint32_t operand : step_.inputs())
        if (overlap(written[i], operand))
          fail("result " + describe(written[i]) + " overlaps operand " + describe(operand) + " in the arena");
      for (size_t j = i + 1; j < written.size(); ++j)
        if (overlap(written[i], written[j]))
          fail("results " + describe(written[i]) + " and " + describe(written[j]) + " overlap in the arena");
    }
  }
};

class PlanValidator {
 public:
  PlanValidator(const plan::Plan& plan, uint64_t weightsBytes, const std::string& path, const Backend& backend)
      : plan_(plan), weightsBytes_(weightsBytes), path_(path), backend_(backend) {}

  void run() {
    if (plan_.version() != plan::kPlanVersion)
      fail("plan version " + std::to_string(plan_.version()) + ", this lrc-run reads version " +
           std::to_string(plan::kPlanVersion));
    if (plan_.arena_bytes() == 0) fail("arena_bytes is 0");
    buffers();
    io();
    inits();
    optimizer();
    program("train", plan_.train());
    program("eval", plan_.eval());
  }

 private:
  const plan::Plan& plan_;
  const uint64_t weightsBytes_;
  const std::string& path_;
  const Backend& backend_;
  std::vector<bool> initialized_;

  [[noreturn]] void fail(const std::string& what) const { throw std::runtime_error(path_ + ": " + what); }

  std::string describe(uint32_t index) const {
    return "buffer #" + std::to_string(index) + " '" + plan_.buffers(static_cast<int>(index)).name() + "'";
  }

  bool overlap(uint32_t x, uint32_t y) const {
    return overlaps(plan_.buffers(static_cast<int>(x)), plan_.buffers(static_cast<int>(y)));
  }

  void buffers() const {
    const uint64_t arena = plan_.arena_bytes();
    for (int i = 0; i < plan_.buffers_size(); ++i) {
      const Buffer& b = plan_.buffers(i);
      const std::string where = describe(static_cast<uint32_t>(i)) + ": ";
      if (!plan::DType_IsValid(b.dtype())) fail(where + "unknown dtype " + std::to_string(b.dtype()));
      if (!plan::Role_IsValid(b.role())) fail(where + "unknown role " + std::to_string(b.role()));
      if (b.shape_size() > kMaxRank)
        fail(where + "rank " + std::to_string(b.shape_size()) + " is over " + std::to_string(kMaxRank));
      if (const std::string problem = ops::sizeProblem(shapeOf(b)); !problem.empty())
        fail(where + "shape " + shapeText(shapeOf(b)) + ": " + problem);
      const int64_t elements = *ops::product(shapeOf(b)).value();
      const uint64_t expected = static_cast<uint64_t>(elements) * (b.dtype() == plan::I64 ? 8 : 4);
      if (b.bytes() != expected)
        fail(where + "holds " + std::to_string(b.bytes()) + " bytes, its type " + plan::bufferType(b) + " needs " +
             std::to_string(expected));
      if (b.offset() % plan::kPlanAlignment != 0)
        fail(where + "offset " + std::to_string(b.offset()) + " is not " + std::to_string(plan::kPlanAlignment) +
             "-byte aligned");
      if (b.bytes() > arena || b.offset() > arena - b.bytes())  // (offset + bytes may wrap)
        fail(where + "bytes [" + std::to_string(b.offset()) + ", +" + std::to_string(b.bytes()) +
             ") lie outside the arena of " + std::to_string(arena) + " bytes");
      band(b, where, elements);
    }
  }

  // Band geometry: none (height 0, row0 0), or rows [row0, row0 + shape[2]) of an f32 map of
  // rank 4 and the given height, whose elements stay countable.
  void band(const Buffer& b, const std::string& where, int64_t elements) const {
    if (b.height() < 0) fail(where + "band height " + std::to_string(b.height()) + " is negative");
    if (b.height() == 0) {
      if (b.row0() != 0) fail(where + "row0 " + std::to_string(b.row0()) + " without a band height");
      return;
    }
    if (b.dtype() != plan::F32 || b.shape_size() != 4)
      fail(where + "band height " + std::to_string(b.height()) + " on " + plan::bufferType(b) +
           ": only f32 maps of rank 4 are row bands");
    const int64_t rows = b.shape(2);
    if (b.row0() < 0 || b.row0() > b.height() - rows)
      fail(where + "band rows [" + std::to_string(b.row0()) + ", " + std::to_string(b.row0() + rows) +
           ") are not inside the map's rows [0, " + std::to_string(b.height()) + ")");
    if (b.height() > kMaxElements / (elements / rows))
      fail(where + "band height " + std::to_string(b.height()) + " makes a map of too many elements");
  }

  const Buffer& ioBuffer(uint32_t index, const char* field) const {
    if (index >= static_cast<uint32_t>(plan_.buffers_size()))
      fail(std::string("io.") + field + " is buffer #" + std::to_string(index) + ", which does not exist (" +
           std::to_string(plan_.buffers_size()) + " buffers)");
    const Buffer& b = plan_.buffers(static_cast<int>(index));
    if (b.height() > 0)
      fail(std::string("io.") + field + ": " + describe(index) + " is a row band (" + plan::bufferType(b) +
           plan::bandText(b) + "), expected a whole tensor");
    return b;
  }

  void ioExpect(uint32_t index, const char* field, DType dtype, const Shape& shape, const char* meaning) const {
    const Buffer& b = ioBuffer(index, field);
    if (b.dtype() != dtype || shapeOf(b) != shape)
      fail(std::string("io.") + field + ": " + describe(index) + " is " + plan::bufferType(b) + ", expected " +
           typeText(dtype, shape) + " (" + meaning + ")");
  }

  void io() const {
    const plan::Io& io = plan_.io();
    const Buffer& image = ioBuffer(io.image(), "image");
    if (image.dtype() != plan::F32 || image.shape_size() != 4)
      fail("io.image: " + describe(io.image()) + " is " + plan::bufferType(image) + ", expected f32[N,C,H,W]");
    const int64_t n = image.shape(0);
    // A classifier's logits [N,K] and a label per image, or a segmentation net's [N,K,H,W] and
    // a label map per image.
    const Buffer& logits = ioBuffer(io.logits(), "logits");
    const bool perPixel = logits.shape_size() == 4;
    if (perPixel)
      ioExpect(io.labels(), "labels", plan::I64, {n, logits.shape(2), logits.shape(3)}, "a label map per image");
    else
      ioExpect(io.labels(), "labels", plan::I64, {n}, "one label per image");
    ioExpect(io.loss(), "loss", plan::F32, {}, "a scalar");
    if (logits.dtype() != plan::F32 || (logits.shape_size() != 2 && !perPixel) || logits.shape(0) != n)
      fail("io.logits: " + describe(io.logits()) + " is " + plan::bufferType(logits) + ", expected f32[" +
           std::to_string(n) + ",K] or f32[" + std::to_string(n) + ",K,H,W]");
    ioExpect(io.eval_logits(), "eval_logits", plan::F32, shapeOf(logits), "the shape of io.logits");
  }

  static bool isGlobal(plan::Role role) {
    return role == plan::PARAMETER || role == plan::STATE || role == plan::OPTIMIZER_STATE || role == plan::CONSTANT;
  }

  // Each init: of a global buffer, once, exactly its bytes from the weights section (in
  // increasing, non-overlapping ranges, as the runtime streams them) or zeros; no two
  // initialized buffers share arena bytes.
  void inits() {
    initialized_.assign(static_cast<size_t>(plan_.buffers_size()), false);
    uint64_t previousEnd = 0;  // where the previous range in the weights section ends
    std::vector<std::pair<uint64_t, int>> byOffset;  // arena offset, init index
    for (int i = 0; i < plan_.inits_size(); ++i) {
      const plan::Init& init = plan_.inits(i);
      const std::string where = "init #" + std::to_string(i) + ": ";
      if (init.buffer() >= static_cast<uint32_t>(plan_.buffers_size()))
        fail(where + "buffer #" + std::to_string(init.buffer()) + " does not exist (" +
             std::to_string(plan_.buffers_size()) + " buffers)");
      if (initialized_[init.buffer()]) fail(where + describe(init.buffer()) + " already has initial data");
      initialized_[init.buffer()] = true;
      const Buffer& b = plan_.buffers(static_cast<int>(init.buffer()));
      if (!isGlobal(b.role()))
        fail(where + describe(init.buffer()) +
             " is not a parameter, state, optimizer state or constant: only those have initial data");
      byOffset.emplace_back(b.offset(), i);
      if (init.bytes() == 0) continue;  // zeros
      if (init.bytes() != b.bytes())
        fail(where + describe(init.buffer()) + " gets " + std::to_string(init.bytes()) + " bytes, its type " +
             plan::bufferType(b) + " needs " + std::to_string(b.bytes()) + " (or none, for zeros)");
      const uint64_t start = init.weights_offset();
      const std::string range = "weights [" + std::to_string(start) + ", +" + std::to_string(init.bytes()) + ")";
      if (start > weightsBytes_ || init.bytes() > weightsBytes_ - start)
        fail(where + describe(init.buffer()) + ": " + range + " lie outside the weights section of " +
             std::to_string(weightsBytes_) + " bytes");
      if (start < previousEnd)
        fail(where + describe(init.buffer()) + ": " + range + " start before the previous init's end at " +
             std::to_string(previousEnd));
      previousEnd = start + init.bytes();
    }
    std::sort(byOffset.begin(), byOffset.end());
    for (size_t k = 1; k < byOffset.size(); ++k) {
      const plan::Init& a = plan_.inits(byOffset[k - 1].second);
      const plan::Init& b = plan_.inits(byOffset[k].second);
      if (overlap(a.buffer(), b.buffer()))
        fail("init #" + std::to_string(byOffset[k].second) + ": " + describe(b.buffer()) + " overlaps " +
             describe(a.buffer()) + " in the arena, which also has initial data");
    }
  }

  // The optimizer's kind and the ranges torch.optim accepts for its hyper-parameters (betas
  // below 1: at 1 AdamW's bias correction divides by zero).
  void optimizer() const {
    const plan::Optimizer& o = plan_.optimizer();
    if (!plan::OptimizerKind_IsValid(o.kind()))
      fail("optimizer kind " + std::to_string(o.kind()) + " is not one this lrc-run knows (sgd, adamw)");
    const std::pair<const char*, double> values[] = {
        {"lr", o.lr()}, {"momentum", o.momentum()}, {"weight_decay", o.weight_decay()}, {"eps", o.eps()}};
    for (const auto& [name, value] : values)
      if (!std::isfinite(value) || value < 0)
        fail(std::string("optimizer ") + name + " = " + numberText(value) + ", expected a finite number >= 0");
    if (o.kind() == plan::ADAMW)
      for (const auto& [name, value] : {std::pair<const char*, double>{"beta1", o.beta1()}, {"beta2", o.beta2()}})
        if (!(value >= 0 && value < 1))
          fail(std::string("optimizer ") + name + " = " + numberText(value) + ", expected a number in [0, 1)");
    if (o.nesterov() && (o.kind() != plan::SGD || o.momentum() == 0))
      fail("optimizer nesterov needs sgd with a momentum above 0");
  }

  // An optimizer update step must be the plan's optimizer's (its hyper-parameters are).
  void checkUpdateKind(const Step& step, const std::string& where) const {
    const ops::OpKind kind = opKind(*kernelByName(step.kernel()));
    if (ops::isFusedOptimizerStep(kind)) {
      const ops::Optimizer planOptimizer = plan::optimizerOf(plan_.optimizer().kind());
      if (ops::optimizerOfFusedStep(kind) != planOptimizer)
        fail(where + ": a step of " + std::string(ops::info(*ops::optimizerOfFusedStep(kind)).name) +
             "'s fused update, but the plan's optimizer is " + std::string(ops::info(planOptimizer).name));
      if (plan_.optimizer().nesterov())
        fail(where + ": Nesterov momentum needs the gradient apart from the momentum buffer, and this plan adds it "
                     "into the buffer (compile it with lrc-compile --no-fuse-sgd-grads)");
    }
    if (!ops::isOptimizerUpdate(kind)) return;
    const ops::Optimizer planOptimizer = plan::optimizerOf(plan_.optimizer().kind());
    if (ops::optimizerOfUpdate(kind) != planOptimizer)
      fail(where + ": an update of " + std::string(ops::info(*ops::optimizerOfUpdate(kind)).name) +
           ", but the plan's optimizer is " + std::string(ops::info(planOptimizer).name));
  }

  void program(const std::string& name, const plan::Program& program) const {
    if (program.steps_size() == 0) fail("the " + name + " program has no steps");
    // What a step may read: data the run writes (images, labels, inits) and results of
    // earlier steps.
    std::vector<bool> defined = initialized_;
    defined[plan_.io().image()] = true;
    defined[plan_.io().labels()] = true;
    // What persists across steps (weights, state, momentum, the batch) is only ever
    // updated in place through operands; no result or scratch may land on it.
    std::vector<uint32_t> persistent;
    for (uint32_t b = 0; b < defined.size(); ++b)
      if (defined[b]) persistent.push_back(b);
    for (int i = 0; i < program.steps_size(); ++i) {
      const Step& step = program.steps(i);
      std::string where = name + " step #" + std::to_string(i) + " (" + step.kernel();
      if (!step.origin().empty()) where += " '" + step.origin() + "'";
      where += ")";
      StepChecker(plan_, step, where, path_).check(backend_);
      checkUpdateKind(step, where);
      std::vector<uint32_t> written(step.outputs().begin(), step.outputs().end());
      if (step.scratch() >= 0) written.push_back(static_cast<uint32_t>(step.scratch()));
      for (uint32_t w : written)
        for (uint32_t p : persistent)
          if (overlap(w, p))
            fail(where + ": result " + describe(w) + " overlaps " + describe(p) + ", which persists across steps");
      for (uint32_t operand : step.inputs())
        if (!defined[operand])
          fail(where + ": reads " + describe(operand) + ", which no earlier step writes and which has no initial data");
      for (uint32_t result : step.outputs()) defined[result] = true;
    }
    const plan::Io& io = plan_.io();
    // io.logits may be the evaluation's (a loss inside a row pipeline leaves training no whole
    // logits; docs/plan-format.md): the training program then need not write it.
    std::vector<std::pair<uint32_t, const char*>> results =
        name == "train"
            ? std::vector<std::pair<uint32_t, const char*>>{{io.loss(), "io.loss"}, {io.logits(), "io.logits"}}
            : std::vector<std::pair<uint32_t, const char*>>{{io.eval_logits(), "io.eval_logits"}};
    if (name == "train" && io.logits() == io.eval_logits()) results.pop_back();
    for (const auto& [index, field] : results)
      if (!defined[index]) fail("the " + name + " program never writes " + field + " (" + describe(index) + ")");
  }
};

}  // namespace

bool fusesOptimizerGrads(const plan::Plan& plan) {
  for (const plan::Step& step : plan.train().steps()) {
    const std::optional<Kernel> kernel = kernelByName(step.kernel());
    if (kernel && ops::isFusedOptimizerStep(opKind(*kernel))) return true;
  }
  return false;
}

void validatePlan(const plan::Plan& plan, uint64_t weightsBytes, const std::string& path, const Backend& backend) {
  PlanValidator(plan, weightsBytes, path, backend).run();
}

}  // namespace lrc::runtime
