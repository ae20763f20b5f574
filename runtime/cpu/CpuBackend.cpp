#include "runtime/cpu/CpuBackend.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/ArenaGuard.h"
#include "runtime/AxisCopySteps.h"
#include "runtime/ElementLoops.h"
#include "runtime/LayerNormSteps.h"
#include "runtime/Collective.h"
#include "runtime/PreparedStep.h"
#include "runtime/StepArgs.h"
#include "runtime/cpu/BatchNorm.h"
#include "runtime/cpu/Conv.h"
#include "runtime/cpu/Dense.h"
#include "runtime/cpu/Elementwise.h"
#include "runtime/cpu/Optimizer.h"
#include "runtime/cpu/Pad.h"
#include "runtime/cpu/Pool.h"
#include "runtime/cpu/Resize.h"
#include "runtime/cpu/StridedLoop.h"
#include "runtime/kernels/Dropout.h"

namespace lrc::runtime {

namespace {

// Zeroes a result, for the kernels that add into their outputs.
void zeroOut(const StepArgs& s, int i) { std::memset(s.out(i), 0, s.outBuffer(i).bytes); }
void copyInToOut(const StepArgs& s) { std::memcpy(s.out(0), s.in(0), s.inBuffer(0).bytes); }

// ---- strided loops (runtime/ElementLoops.h): broadcasting, per-channel operands on rows, sums ----

// Every element of the loop's result (runtime/cpu/StridedLoop.h).
template <class Term>
void runLoop(const ElementLoop& l, const Term& term, float scale = 1.0f) {
  cpu::runStrided(l.result, l.loop, term, scale);
}

// ---- kernels ----

void conv2d(const StepArgs& s) {
  const auto& p = s.params<kernels::Conv2dParams>();
  const kernels::RowRange r = s.outBand(0).range();
  cpu::conv2d_rows_forward(s.outBand(0), s.inBand(0), s.in(1), s.numInputs() == 3 ? s.in(2) : nullptr, p, r.begin,
                           r.end, s.scratch(), s.scratchFloats());
}

void conv2dGradInput(const StepArgs& s) {
  const auto& p = s.params<kernels::Conv2dParams>();
  const kernels::RowRange r = s.gradRows(0);
  zeroOut(s, 0);
  cpu::conv2d_rows_backward_data(s.outBand(0), s.inBand(0), s.in(1), p, r.begin, r.end, s.scratch(),
                                 /*dInZeroed=*/true, s.scratchFloats());
}

void conv2dGradWeight(const StepArgs& s) {
  const auto& p = s.params<kernels::Conv2dParams>();
  const kernels::RowRange r = s.gradRows(0);
  // The accumulating form (fused SGD: into the momentum buffer) adds into it; otherwise the
  // oneDNN path overwrites it and the reference adds into zeros.
  if (!s.accumulates()) zeroOut(s, 0);
  cpu::conv2d_rows_backward_filter(s.out(0), nullptr, s.inBand(0), s.inBand(1), p, r.begin, r.end, s.scratch(),
                                   /*dWeightZeroed=*/!s.accumulates(), s.scratchFloats());
}

void convTranspose2d(const StepArgs& s) {
  const auto& p = s.params<kernels::Conv2dParams>();
  const kernels::RowRange r = s.outBand(0).range();
  cpu::conv_transpose2d_rows_forward(s.outBand(0), s.inBand(0), s.in(1), s.numInputs() == 3 ? s.in(2) : nullptr, p,
                                     r.begin, r.end, s.scratch());
}

void convTranspose2dGradInput(const StepArgs& s) {
  const kernels::RowRange r = s.gradRows(0);
  zeroOut(s, 0);
  cpu::conv_transpose2d_rows_backward_data(s.outBand(0), s.inBand(0), s.in(1), s.params<kernels::Conv2dParams>(),
                                           r.begin, r.end, s.scratch());
}

void convTranspose2dGradWeight(const StepArgs& s) {
  const kernels::RowRange r = s.gradRows(0);
  if (!s.accumulates()) zeroOut(s, 0);  // the accumulating form adds into it
  cpu::conv_transpose2d_rows_backward_filter(s.out(0), s.inBand(0), s.inBand(1), s.params<kernels::Conv2dParams>(),
                                             r.begin, r.end, s.scratch());
}

void channelSum(const StepArgs& s) {
  const kernels::RowRange r = s.gradRows(0);
  if (!s.accumulates()) zeroOut(s, 0);  // the accumulating form adds into it
  cpu::conv2d_rows_backward_bias(s.out(0), s.inBand(0), r.begin, r.end);
}

// A unary element-wise op F (runtime/kernels/Unary.h) and its gradient (dy, saved).
template <class F>
void unary(const StepArgs& s) {
  const F f = kernels::unaryOf<F>(s.params<kernels::UnaryParams>());
  if (!s.byRows()) return cpu::unary_forward(f, s.out(0), s.in(0), s.inCount(0));
  const kernels::RowRange r = s.outBand(0).range();
  cpu::unary_rows_forward(f, s.outBand(0), s.inBand(0), r.begin, r.end);
}

template <class F>
void unaryGrad(const StepArgs& s) {
  const F f = kernels::unaryOf<F>(s.params<kernels::UnaryParams>());
  zeroOut(s, 0);
  if (!s.byRows()) return cpu::unary_backward(f, s.out(0), s.in(0), s.in(1), s.inCount(0));
  const kernels::RowRange r = s.gradRows(0);
  cpu::unary_rows_backward(f, s.outBand(0), s.inBand(0), s.inBand(1), r.begin, r.end);
}

void pool(const StepArgs& s, bool average) {
  const auto& p = s.params<kernels::Pool2dParams>();
  const kernels::RowBand y = s.outBand(0);
  const kernels::RowRange r = y.range();
  if (average)
    cpu::avgpool2d_rows_forward(y, s.inBand(0), p, r.begin, r.end);
  else
    cpu::maxpool2d_rows_forward(y, s.inBand(0), p, r.begin, r.end);
}

void poolGrad(const StepArgs& s, bool average) {
  const auto& p = s.params<kernels::Pool2dParams>();
  const kernels::RowRange r = s.gradRows(0);
  zeroOut(s, 0);
  if (average)
    cpu::avgpool2d_rows_backward(s.outBand(0), s.inBand(0), p, r.begin, r.end);
  else
    cpu::maxpool2d_rows_backward(s.outBand(0), s.inBand(0), s.inBand(1), p, r.begin, r.end);
}

void resize(const StepArgs& s) {
  const kernels::RowBand y = s.outBand(0);
  cpu::resize_rows_forward(y, s.inBand(0), s.params<kernels::ResizeParams>(), y.range().begin, y.range().end);
}

void resizeGrad(const StepArgs& s) {
  const kernels::RowRange r = s.gradRows(0);
  zeroOut(s, 0);
  cpu::resize_rows_backward(s.outBand(0), s.inBand(0), s.params<kernels::ResizeParams>(), r.begin, r.end);
}

void globalAvgPool(const StepArgs& s) {
  const Shape& x = s.inShape(0);
  cpu::global_avgpool_forward(s.out(0), s.in(0), x[0], x[1], x[2] * x[3]);
}

void globalAvgPoolGrad(const StepArgs& s) {
  const Shape& x = s.outShape(0);
  zeroOut(s, 0);
  cpu::global_avgpool_backward(s.out(0), s.in(0), x[0], x[1], x[2] * x[3]);
}

void pad(const StepArgs& s) {
  const kernels::RowRange r = s.outBand(0).range();
  cpu::pad_rows_forward(s.outBand(0), s.inBand(0), s.params<kernels::PadParams>(), r.begin, r.end);
}

// Training mode: the batch mean and inverse std go to the step's scratch (the plan sizes it
// 8 * C bytes); backward recomputes them, so nothing is kept between steps.
void batchNorm(const StepArgs& s) {
  const auto& p = s.params<kernels::BatchNormParams>();
  const float eps = p.epsilon;
  const kernels::RowBand x = s.inMap(0), y = s.outMap(0);
  if (p.training) {
    // Batch statistics (of the band's rows: --bn strip), and the running statistics
    // (operands 3 and 4) updated in place unless update_stats=0 (a strip's recompute).
    float* stats = s.scratch();
    const bool update = p.updateStats;
    cpu::batchnorm_train_forward(y.data, stats, stats + x.C, update ? s.in(3) : nullptr, update ? s.in(4) : nullptr,
                                 x.data, s.in(1), s.in(2), x.N, x.C, x.rows * x.W, eps, p.momentum);
  } else {
    cpu::batchnorm_frozen_rows_forward(y, x, s.in(1), s.in(2), s.in(3), s.in(4), eps, y.row0, y.row0 + y.rows);
  }
}

// (dy, x, scale, running mean, running var) -> dx, dscale, dbias.
void batchNormGrad(const StepArgs& s) {
  const auto& p = s.params<kernels::BatchNormParams>();
  const float eps = p.epsilon;
  const kernels::RowBand dy = s.inMap(0), x = s.inMap(1), dx = s.outMap(0);
  for (int i = 0; i < 3; ++i) zeroOut(s, i);
  if (!p.training) {
    const kernels::RowRange r = s.gradRows(0);
    cpu::batchnorm_frozen_rows_backward(dx, s.out(1), s.out(2), dy, x, s.in(2), s.in(3), s.in(4), eps, r.begin, r.end);
    return;
  }
  // The batch statistics again, into the scratch (the plan sizes it 24 * C bytes): sums and
  // sums of squares in double, then mean and inverse std in float. Running statistics are
  // not touched: the forward step updated them once.
  double* sum = reinterpret_cast<double*>(s.scratch());
  double* sumSq = sum + x.C;
  float* mean = reinterpret_cast<float*>(sumSq + x.C);
  float* invStd = mean + x.C;
  std::memset(sum, 0, static_cast<size_t>(2 * x.C) * sizeof(double));
  cpu::batchnorm_stats_rows(sum, sumSq, x, x.row0, x.row0 + x.rows);
  cpu::batchnorm_finalize_stats(mean, invStd, nullptr, nullptr, sum, sumSq, x.C, x.N * x.rows * x.W, eps, 0.0f);
  cpu::batchnorm_train_backward(dx.data, s.out(1), s.out(2), dy.data, x.data, s.in(2), mean, invStd, x.N, x.C,
                                x.rows * x.W);
}

// The split training BatchNorm (SPEC.md section 5). Statistics: (x, running mean, running
// var) -> (mean, invstd), the running statistics updated in place.
// With `sync` (data-parallel bn-sync) the per-channel sums are every rank's.
void batchNormStats(const StepArgs& s, const RunContext& context) {
  const auto& p = s.params<kernels::BatchNormParams>();
  if (!p.sync || context.collective == nullptr)
    return cpu::batchnorm_stats(s.out(0), s.out(1), s.in(1), s.in(2), s.inMap(0), p.epsilon, p.momentum);
  const kernels::ConstRowBand x = s.inMap(0);
  std::vector<double> sums(static_cast<size_t>(2 * x.C));  // sum, then sum of squares
  cpu::batchnorm_stats_rows(sums.data(), sums.data() + x.C, x, x.row0, x.row0 + x.rows);
  context.collective->sumNow(sums.data(), 2 * x.C);
  cpu::batchnorm_finalize_stats(s.out(0), s.out(1), s.in(1), s.in(2), sums.data(), sums.data() + x.C, x.C,
                                x.N * x.rows * x.W * context.collective->size(), p.epsilon, p.momentum);
}

// allreduce_start: every operand's average over the ranks begins; allreduce_wait: it is in
// place. One process: nothing to do.
void collective(const StepArgs& s, const RunContext& context, bool start) {
  if (context.collective == nullptr) return;
  const int bucket = s.params<CollectiveParams>().bucket;
  if (!start) return context.collective->wait(bucket);
  for (int i = 0; i < s.numInputs(); ++i) context.collective->startAverage(bucket, s.in(i), s.inCount(i));
}

// (x, scale, bias, mean, invstd) {relu}: the rows of the result band.
void batchNormApply(const StepArgs& s) {
  const kernels::RowBand y = s.outMap(0);
  cpu::batchnorm_normalize_rows(y, s.inMap(0), s.in(3), s.in(4), s.in(1), s.in(2), y.row0, y.row0 + y.rows,
                                s.params<kernels::BatchNormParams>().relu);
}

// (dy, x, scale, mean, invstd[, bias]) {relu} -> dx, dscale, dbias, dmean, dinvstd over dy's rows.
void batchNormApplyGrad(const StepArgs& s) {
  for (int i = 0; i < 5; ++i) zeroOut(s, i);
  const kernels::RowRange r = s.gradRows(0);
  const float* reluBias = s.params<kernels::BatchNormParams>().relu ? s.in(5) : nullptr;
  cpu::batchnorm_apply_backward_rows(s.outMap(0), s.out(1), s.out(2), s.out(3), s.out(4), s.inMap(0), s.inMap(1),
                                     s.in(2), s.in(3), s.in(4), r.begin, r.end, reluBias);
}

// (x, mean, invstd, dmean, dinvstd[, acc]) -> dx on the result's rows (the whole map, or a band).
void batchNormStatsGrad(const StepArgs& s) {
  const kernels::RowBand acc = s.numInputs() == 6 ? s.inMap(5) : kernels::RowBand{};
  cpu::batchnorm_stats_backward(s.outMap(0), acc, s.inMap(0), s.in(1), s.in(2), s.in(3), s.in(4));
}

// The binary family (runtime/kernels/Binary.h): same-shape maps by plain loops, the rest
// (broadcasting, a per-channel operand on rows) by the strided loop.
template <class F>
void binary(const StepArgs& s) {
  const Shape &a = s.inShape(0), &b = s.inShape(1), &y = s.outShape(0);
  if (s.byRows() && s.inBuffer(0).height > 0 && s.inBuffer(1).height > 0) {
    const kernels::RowRange r = s.outBand(0).range();
    return cpu::binary_rows_forward<F>(s.outBand(0), s.inBand(0), s.inBand(1), r.begin, r.end);
  }
  if (!s.byRows() && a == y && b == y) return cpu::binary_forward<F>(s.out(0), s.in(0), s.in(1), elementsOf(y));
  const ElementLoop l = elementLoop(s, false);
  runLoop(l, kernels::BinaryTerm<F>{l.operands[0], l.operands[1]});
}

// (dy, a, b) -> the gradient of one operand, summed over its broadcast axes.
template <class F>
void binaryGrad(const StepArgs& s) {
  zeroOut(s, 0);
  const ElementLoop l = elementLoop(s, true);
  runLoop(l, kernels::BinaryGradTerm<F>{l.operands[0], l.operands[1], l.operands[2],
                                        s.params<kernels::BinaryGradParams>().operand});
}

// Sums the axes that broadcasting added or stretched away: the result has the shape attribute.
void sumTo(const StepArgs& s) {
  const Shape& x = s.inShape(0);
  ElementLoop l;
  l.result = s.out(0);
  l.loop = kernels::ReduceLoop::over(x, broadcastStrides(s.outShape(0), x));
  runLoop(l, kernels::ValueTerm{l.loop.operand(s.in(0), kernels::contiguousStrides(x))});
}

// reduce_mean and its gradient (dy broadcast back, over the count; with `sum`, ReduceSum's).
void reduceMean(const StepArgs& s, bool grad) {
  const kernels::ReduceMeanParams& p = s.params<kernels::ReduceMeanParams>();
  const ElementLoop l = reduceMeanLoop(s, p.axes, grad);
  runLoop(l, kernels::ValueTerm{l.operands[0]}, reduceMeanScale(grad ? s.outShape(0) : s.inShape(0), p));
}

// transpose: x read through its permuted strides (its gradient: the inverse permutation).
void transpose(const StepArgs& s) {
  const ElementLoop l = transposeLoop(s, s.params<kernels::TransposeParams>().perm);
  runLoop(l, kernels::ValueTerm{l.operands[0]});
}

void gemm(const StepArgs& s) {
  cpu::gemm_forward(s.out(0), s.in(0), s.in(1), s.numInputs() == 3 ? s.in(2) : nullptr,
                    s.params<kernels::GemmParams>());
}

// Softmax over any axis: [outer][classes][inner]; the last axis (inner = 1) is the fast path.
void softmax(const StepArgs& s) {
  const auto& [outer, classes, inner] = s.params<kernels::SoftmaxParams>();
  if (inner == 1) return cpu::softmax_forward(s.out(0), s.in(0), outer, classes);
  const float* in = s.in(0);
  float* out = s.out(0);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const float* xs = in + o * classes * inner + i;
      float* ys = out + o * classes * inner + i;
      float max = xs[0];
      for (int64_t c = 1; c < classes; ++c) max = std::max(max, xs[c * inner]);
      double sum = 0;
      for (int64_t c = 0; c < classes; ++c) sum += std::exp(static_cast<double>(xs[c * inner] - max));
      for (int64_t c = 0; c < classes; ++c)
        ys[c * inner] = static_cast<float>(std::exp(static_cast<double>(xs[c * inner] - max)) / sum);
    }
}

// runtime/LayerNormSteps.h's passes, in a loop; the group statistics in a vector. A gradient's dx
// is zeroed first (on a band, rows outside dy's `rows` get no value).
void layerNorm(const StepArgs& s) {
  if (s.step.kernel == Kernel::LayerNormGrad) zeroOut(s, 0);
  std::vector<double> stats;
  const auto loop = [](int64_t n, const auto& f) {
    for (int64_t i = 0; i < n; ++i) f(i);
  };
  runLayerNormStep(s, loop, [&](int64_t n) {
    stats.resize(static_cast<size_t>(n));
    return stats.data();
  });
}

void softmaxXent(const StepArgs& s, bool grad) {
  const Shape& logits = s.inShape(0);
  const int64_t n = logits[0], classes = logits[1];
  if (!grad) {
    *s.out(0) = cpu::softmax_cross_entropy_forward(nullptr, s.in(0), s.inInts(1), n, classes);
    return;
  }
  // Both kernels allow aliasing: the probabilities become the gradient in place.
  cpu::softmax_forward(s.out(0), s.in(0), n, classes);
  cpu::softmax_cross_entropy_backward(s.out(0), s.out(0), s.inInts(1), n, classes);
}

// The logits may be a row band (the loss in a row pipeline); the labels are whole [N,H,W].
void pixelXent(const StepArgs& s, bool grad) {
  const Shape& x = s.inShape(0);
  const int64_t ignore = s.params<kernels::PixelXentParams>().ignoreIndex;
  const int64_t H = s.inShape(1)[1], row0 = s.inBuffer(0).row0;
  if (!grad) {
    *s.out(0) = cpu::pixel_xent_forward(s.in(0), s.inInts(1), x[0], x[1], H, x[3], ignore, row0, x[2]);
    return;
  }
  cpu::pixel_xent_backward(s.out(0), s.in(0), s.inInts(1), x[0], x[1], H, x[3], ignore, row0, x[2]);
}

// Identity, and inference-mode Dropout: the result's rows of the operand.
void copy(const StepArgs& s) {
  if (!s.byRows()) return copyInToOut(s);
  const kernels::RowRange r = s.outBand(0).range();
  cpu::copy_rows(s.outBand(0), s.inBand(0), r.begin, r.end);
}

// The mask depends on (seed, training step, element index in the whole map) only, so the
// backward step and every strip reproduce the forward's. The run's --seed changes every mask
// (0 keeps the plan's seeds).
void dropout(const StepArgs& s, const RunContext& context, bool grad) {
  const auto& [ratio, planSeed, training] = s.params<kernels::DropoutParams>();
  const uint64_t seed = planSeed ^ kernels::dropout_mix(context.seed);
  if (grad) zeroOut(s, 0);
  if (!s.byRows()) {
    if (!training) return copyInToOut(s);
    const int64_t count = s.inCount(0);
    if (grad) return cpu::dropout_backward(s.out(0), s.in(0), count, 0, ratio, seed, context.step);
    return cpu::dropout_forward(s.out(0), s.in(0), count, 0, ratio, seed, context.step);
  }
  // Forward computes its result's rows, backward propagates its rows of dy.
  const kernels::RowRange r = grad ? s.gradRows(0) : s.outBand(0).range();
  if (!training) return cpu::copy_rows(s.outBand(0), s.inBand(0), r.begin, r.end);
  if (grad) return cpu::dropout_rows_backward(s.outBand(0), s.inBand(0), ratio, seed, context.step, r.begin, r.end);
  cpu::dropout_rows_forward(s.outBand(0), s.inBand(0), ratio, seed, context.step, r.begin, r.end);
}

// concat, slice, slice_grad (runtime/AxisCopySteps.h): row by row.
void axisCopy(const StepArgs& s) {
  if (s.step.kernel == Kernel::SliceGrad) zeroOut(s, 0);
  for (const kernels::AxisCopyJob& job : axisCopies(s)) {
    const kernels::RowBand& dst = job.copy.dst;
    for (int64_t n = 0; n < dst.N; ++n)
      for (int64_t c = 0; c < job.count; ++c)
        for (int64_t h = job.rows.begin; h < job.rows.end; ++h)
          for (int64_t w = 0; w < dst.W; ++w) job.copy(n, c, h, w);
  }
}

// rows_copy and rows_sum: the result band assembled from the operand bands.
void combineRows(const StepArgs& s, bool sum) {
  std::vector<kernels::ConstRowBand> sources;
  for (int i = 0; i < s.numInputs(); ++i) sources.push_back(s.inBand(i));
  if (sum)
    cpu::sum_rows(s.outBand(0), sources);
  else
    cpu::gather_rows(s.outBand(0), sources);
}

}  // namespace

void CpuBackend::FreeDeleter::operator()(unsigned char* p) const { std::free(p); }

CpuBackend::CpuBackend(std::function<AvailableMemory()> available) : available_(std::move(available)) {}
CpuBackend::~CpuBackend() = default;

void CpuBackend::allocateArena(uint64_t bytes) {
  const uint64_t total =
      (bytes + kArenaGuardBytes + plan::kPlanAlignment - 1) / plan::kPlanAlignment * plan::kPlanAlignment;
  checkArenaFits(total, available_());
  arena_.reset(static_cast<unsigned char*>(std::aligned_alloc(plan::kPlanAlignment, total)));
  if (!arena_) throw std::runtime_error("cannot allocate the arena of " + std::to_string(bytes) + " bytes");
  arenaBytes_ = bytes;
  allocatedBytes_ = total;
  std::memset(arena_.get(), kArenaCanary, total);
}

void CpuBackend::checkRange(uint64_t offset, uint64_t bytes, const char* what) const {
  if (!arena_) throw std::logic_error(std::string(what) + " before allocateArena");
  if (bytes > arenaBytes_ || offset > arenaBytes_ - bytes)
    throw std::out_of_range(std::string(what) + ": bytes [" + std::to_string(offset) + ", +" + std::to_string(bytes) +
                            ") are outside the arena of " + std::to_string(arenaBytes_) + " bytes");
}

void CpuBackend::copyIn(uint64_t offset, const void* src, uint64_t bytes) {
  checkRange(offset, bytes, "copyIn");
  if (bytes) std::memcpy(arena_.get() + offset, src, bytes);
}

void CpuBackend::copyOut(uint64_t offset, void* dst, uint64_t bytes) {
  checkRange(offset, bytes, "copyOut");
  if (bytes) std::memcpy(dst, arena_.get() + offset, bytes);
}

void CpuBackend::zero(uint64_t offset, uint64_t bytes) {
  checkRange(offset, bytes, "zero");
  if (bytes) std::memset(arena_.get() + offset, 0, bytes);
}

uint64_t CpuBackend::measuredPeakBytes() {
  if (!arena_) return 0;
  checkArenaGuard(arena_.get() + arenaBytes_, allocatedBytes_ - arenaBytes_);
  return touchedBytes(arena_.get(), arenaBytes_);
}

void CpuBackend::run(const PreparedStep& step, const RunContext& context) {
  const StepArgs s(arena_.get(), step);
  switch (step.kernel) {
    case Kernel::Conv2d:
      return conv2d(s);
    case Kernel::Conv2dGradInput:
      return conv2dGradInput(s);
    case Kernel::Conv2dGradWeight:
      return conv2dGradWeight(s);
    case Kernel::ConvTranspose2d:
      return convTranspose2d(s);
    case Kernel::ConvTranspose2dGradInput:
      return convTranspose2dGradInput(s);
    case Kernel::ConvTranspose2dGradWeight:
      return convTranspose2dGradWeight(s);
    case Kernel::ChannelSum:
      return channelSum(s);
#define LRC_UNARY_CASES(Forward, Grad, F) \
  case Kernel::Forward:                    \
    return unary<F>(s);                    \
  case Kernel::Grad:                       \
    return unaryGrad<F>(s);
      LRC_UNARY_KERNELS(LRC_UNARY_CASES)
#undef LRC_UNARY_CASES
    case Kernel::MaxPool:
      return pool(s, false);
    case Kernel::AveragePool:
      return pool(s, true);
    case Kernel::MaxPoolGrad:
      return poolGrad(s, false);
    case Kernel::AveragePoolGrad:
      return poolGrad(s, true);
    case Kernel::Resize:
      return resize(s);
    case Kernel::ResizeGrad:
      return resizeGrad(s);
    case Kernel::GlobalAvgPool:
      return globalAvgPool(s);
    case Kernel::GlobalAvgPoolGrad:
      return globalAvgPoolGrad(s);
    case Kernel::ReduceMean:
      return reduceMean(s, false);
    case Kernel::ReduceMeanGrad:
      return reduceMean(s, true);
    case Kernel::Pad:
      return pad(s);
    case Kernel::BatchNorm:
      return batchNorm(s);
    case Kernel::BatchNormGrad:
      return batchNormGrad(s);
    case Kernel::BatchNormStats:
      return batchNormStats(s, context);
    case Kernel::LayerNorm:
    case Kernel::LayerNormGrad:
      return layerNorm(s);
    case Kernel::BatchNormApply:
      return batchNormApply(s);
    case Kernel::BatchNormApplyGrad:
      return batchNormApplyGrad(s);
    case Kernel::BatchNormStatsGrad:
      return batchNormStatsGrad(s);
#define LRC_BINARY_CASES(Forward, Grad, F) \
  case Kernel::Forward:                     \
    return binary<F>(s);                    \
  case Kernel::Grad:                        \
    return binaryGrad<F>(s);
      LRC_BINARY_KERNELS(LRC_BINARY_CASES)
#undef LRC_BINARY_CASES
    case Kernel::Concat:
    case Kernel::Slice:
    case Kernel::SliceGrad:
    case Kernel::ChannelShuffle:
      return axisCopy(s);
    case Kernel::Transpose:
      return transpose(s);
    case Kernel::SumTo:
      return sumTo(s);
    case Kernel::Flatten:
    case Kernel::Reshape:
      return copyInToOut(s);
    case Kernel::Identity:
      return copy(s);
    case Kernel::Gemm:
    case Kernel::MatMul:
      return gemm(s);
    case Kernel::Softmax:
      return softmax(s);
    case Kernel::SoftmaxXent:
      return softmaxXent(s, false);
    case Kernel::SoftmaxXentGrad:
      return softmaxXent(s, true);
    case Kernel::PixelXent:
      return pixelXent(s, false);
    case Kernel::PixelXentGrad:
      return pixelXent(s, true);
    case Kernel::Dropout:
      return dropout(s, context, false);
    case Kernel::DropoutGrad:
      return dropout(s, context, true);
    case Kernel::RowsCopy:
      return combineRows(s, false);
    case Kernel::RowsSum:
      return combineRows(s, true);
    case Kernel::AllreduceStart:
      return collective(s, context, true);
    case Kernel::AllreduceWait:
      return collective(s, context, false);
    case Kernel::SgdUpdate:
      return cpu::sgd_update(s.in(0), s.in(2), s.in(1), s.inCount(0), context.optimizer);
    case Kernel::AdamwUpdate:
      return cpu::adamw_update(s.in(0), s.in(2), s.in(3), s.in(4), s.in(1), s.inCount(0), context.optimizer);
    case Kernel::SgdMomentumScale:
      return cpu::sgd_momentum_scale(s.in(0), s.inCount(0), context.optimizer);
    case Kernel::SgdApply:
      return cpu::sgd_apply(s.in(0), s.in(1), s.inCount(0), context.optimizer);
  }
}

}  // namespace lrc::runtime
