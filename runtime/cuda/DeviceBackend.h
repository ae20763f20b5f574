// The CUDA backend: plan steps on the kernel families of runtime/cuda (*.cuh), over a device
// (Device.h). One template, so that the dispatch and the kernels the GPU runs (CudaDevice)
// are the very code the host emulation runs in tests (HostDevice). Conventions are the CPU
// backend's (runtime/cpu/CpuBackend.cpp): the same steps, the same bands and row ranges, the
// same zeroing of gradient results; only the loops became kernels.
//
// Memory: the arena is one allocation of the plan's bytes plus a guard, filled with a canary
// so that the peak is measured as on the CPU (runtime/ArenaGuard.h), and checked against the
// device's free memory first (runtime/AvailableMemory.h). Reductions (BatchNorm statistics, bias
// gradients, the loss) use a workspace of the backend's own, reported apart from the arena,
// as are cuBLAS's (CudaDevice).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/ArenaGuard.h"
#include "runtime/AvailableMemory.h"
#include "runtime/AxisCopySteps.h"
#include "runtime/LayerNormSteps.h"
#include "runtime/Collective.h"
#include "runtime/Backend.h"
#include "runtime/ElementLoops.h"
#include "runtime/PreparedStep.h"
#include "runtime/StepArgs.h"
#include "runtime/kernels/Dropout.h"
#include "runtime/kernels/Pad.h"
#include "runtime/cuda/BatchNorm.cuh"
#include "runtime/cuda/Conv.cuh"
#include "runtime/cuda/Dense.cuh"
#include "runtime/cuda/Device.h"
#include "runtime/cuda/Elementwise.cuh"
#include "runtime/cuda/Optimizer.cuh"
#include "runtime/cuda/Pool.cuh"
#include "runtime/cuda/Resize.cuh"

namespace lrc::cuda {

template <class D>
class DeviceBackend final : public runtime::Backend {
 public:
  explicit DeviceBackend(D device) : dev_(std::move(device)) {}
  ~DeviceBackend() override {
    try {  // a failed free at the end of a run changes nothing the run reported
      if (arena_) dev_.release(arena_);
      if (workspace_) dev_.release(workspace_);
    } catch (const std::exception&) {
    }
  }

  std::string name() const override { return D::kName; }
  bool supports(runtime::Kernel) const override { return true; }

  void allocateArena(uint64_t bytes) override {
    if (arena_) throw std::logic_error("allocateArena called twice");
    const uint64_t total = statusOffset(bytes) + sizeof(Status);
    runtime::checkArenaFits(total, dev_.availableMemory());
    arena_ = dev_.allocate(total);
    arenaBytes_ = bytes;
    dev_.fill(arena_, runtime::kArenaCanary, bytes + runtime::kArenaGuardBytes);
    dev_.fill(status(), 0, sizeof(Status));
  }
  void copyIn(uint64_t offset, const void* src, uint64_t bytes) override {
    checkRange(offset, bytes, "copyIn");
    if (bytes) dev_.toDevice(arena_ + offset, src, bytes);
  }
  void copyOut(uint64_t offset, void* dst, uint64_t bytes) override {
    checkRange(offset, bytes, "copyOut");
    if (bytes) dev_.toHost(dst, arena_ + offset, bytes);
  }
  void zero(uint64_t offset, uint64_t bytes) override {
    checkRange(offset, bytes, "zero");
    if (bytes) dev_.fill(arena_ + offset, 0, bytes);
  }

  void run(const runtime::PreparedStep& step, const runtime::RunContext& context) override;

  // Ends the queued work and turns a kernel's reported failure (a bad label) into an error.
  // The status word is read only when a loss kernel ran since the last look (a profiled run
  // synchronizes after every kernel: the others pay no copy).
  void synchronize() override {
    dev_.synchronize();
    if (!arena_ || !lossSinceCheck_) return;
    lossSinceCheck_ = false;
    Status s;
    dev_.toHost(&s, status(), sizeof s);
    if (s.badLabel != 0)
      throw std::runtime_error("the loss: label " + std::to_string(s.label) + " of sample " +
                               std::to_string(s.sample) + " is outside [0, " + std::to_string(s.classes) + ")");
  }

  uint64_t measuredPeakBytes() override {
    if (!arena_) return 0;
    synchronize();
    std::vector<unsigned char> chunk(runtime::kArenaGuardBytes);
    dev_.toHost(chunk.data(), arena_ + arenaBytes_, runtime::kArenaGuardBytes);
    runtime::checkArenaGuard(chunk.data(), runtime::kArenaGuardBytes);
    // From the top down, a chunk at a time: usually only the last chunks are read.
    constexpr uint64_t kChunk = 1 << 22;
    chunk.resize(kChunk);
    for (uint64_t end = arenaBytes_; end > 0;) {
      const uint64_t begin = end > kChunk ? end - kChunk : 0;
      dev_.toHost(chunk.data(), arena_ + begin, end - begin);
      const uint64_t touched = runtime::touchedBytes(chunk.data(), end - begin);
      if (touched > 0) return begin + touched;
      end = begin;
    }
    return 0;
  }

  std::string memoryReport() override {
    const std::string report = dev_.memoryReport(arenaBytes_, workspaceBytes_);
    return dev_.averagesOnDevice() ? report + "; data-parallel averages by NCCL on the device" : report;
  }

  // Where the kernels' status record lies (after the arena and its guard): for tests.
  const void* statusRecord() const { return status(); }

 private:
  // What a kernel reports back: written by a device thread, read at synchronize().
  struct Status {
    int64_t badLabel = 0, sample = 0, label = 0, classes = 0;
  };

  D dev_;
  unsigned char* arena_ = nullptr;
  uint64_t arenaBytes_ = 0;
  unsigned char* workspace_ = nullptr;
  uint64_t workspaceBytes_ = 0;
  bool lossSinceCheck_ = false;

  // The status record's offset from the arena's start: after the guard, rounded up to 256
  // bytes (cudaMalloc's alignment, more than the record needs), since a kernel's 64-bit
  // atomicCAS on it faults when it is misaligned, as it is whenever the arena's size is
  // not a multiple of 8.
  static constexpr uint64_t kStatusAlignment = 256;
  static_assert(kStatusAlignment % alignof(Status) == 0);
  static uint64_t statusOffset(uint64_t arenaBytes) {
    return (arenaBytes + runtime::kArenaGuardBytes + kStatusAlignment - 1) / kStatusAlignment * kStatusAlignment;
  }
  Status* status() const { return reinterpret_cast<Status*>(arena_ + statusOffset(arenaBytes_)); }

  void checkRange(uint64_t offset, uint64_t bytes, const char* what) const {
    if (!arena_) throw std::logic_error(std::string(what) + " before allocateArena");
    if (bytes > arenaBytes_ || offset > arenaBytes_ - bytes)
      throw std::out_of_range(std::string(what) + ": bytes [" + std::to_string(offset) + ", +" +
                              std::to_string(bytes) + ") are outside the arena of " + std::to_string(arenaBytes_) +
                              " bytes");
  }

  // Data parallel (allreduce_start / allreduce_wait): on a device with its own averaging (the
  // GPU with NCCL) each tensor is averaged in place on the device, on a stream of its own that
  // the compute stream waits for at the bucket's wait. Otherwise each tensor of a bucket is
  // copied to a host buffer of its own, averaged there over the ranks by the job's Collective
  // (MPI), and copied back when the bucket is waited for (host memory, apart from the arena).
  std::map<int, std::vector<std::pair<float*, std::unique_ptr<std::vector<float>>>>> staged_;
  void startAverage(const runtime::StepArgs& s, const runtime::RunContext& context) {
    if (context.collective == nullptr) return;
    const int bucket = s.params<runtime::CollectiveParams>().bucket;
    if (dev_.averagesOnDevice()) {
      for (int i = 0; i < s.numInputs(); ++i) dev_.startDeviceAverage(bucket, s.in(i), s.inCount(i));
      return;
    }
    for (int i = 0; i < s.numInputs(); ++i) {
      auto host = std::make_unique<std::vector<float>>(static_cast<size_t>(s.inCount(i)));
      dev_.toHost(host->data(), s.in(i), host->size() * sizeof(float));
      context.collective->startAverage(bucket, host->data(), s.inCount(i));
      staged_[bucket].emplace_back(s.in(i), std::move(host));
    }
  }
  void endAverage(const runtime::StepArgs& s, const runtime::RunContext& context) {
    if (context.collective == nullptr) return;
    const int bucket = s.params<runtime::CollectiveParams>().bucket;
    if (dev_.averagesOnDevice()) return dev_.waitDeviceAverage(bucket);
    context.collective->wait(bucket);
    for (auto& [device, host] : staged_[bucket]) dev_.toDevice(device, host->data(), host->size() * sizeof(float));
    staged_.erase(bucket);
  }

  // The backend's own workspace of at least `count` doubles; it only grows (the first steps
  // of a run size it), and the queued work is finished before the old one is released.
  double* workspace(int64_t count) {
    const uint64_t bytes = static_cast<uint64_t>(std::max<int64_t>(count, 1)) * sizeof(double);
    if (bytes > workspaceBytes_) {
      dev_.synchronize();
      if (workspace_) dev_.release(workspace_);
      workspace_ = nullptr;
      workspace_ = dev_.allocate(bytes);
      workspaceBytes_ = bytes;
    }
    return reinterpret_cast<double*>(workspace_);
  }

  void zeroOut(const runtime::StepArgs& s, int i) { dev_.fill(s.out(i), 0, s.outBuffer(i).bytes); }
  void copyInToOut(const runtime::StepArgs& s) { dev_.onDevice(s.out(0), s.in(0), s.inBuffer(0).bytes); }

  void conv(const runtime::StepArgs& s, runtime::Kernel kernel);
  void batchNorm(const runtime::StepArgs& s);
  void batchNormGrad(const runtime::StepArgs& s);
  void dropout(const runtime::StepArgs& s, const runtime::RunContext& context, bool grad);
  void rowsOrCopy(const runtime::StepArgs& s);
  void combineRows(const runtime::StepArgs& s, bool sum);
  template <class F>
  void binary(const runtime::StepArgs& s);
  template <class F>
  void binaryGrad(const runtime::StepArgs& s);
  void sumTo(const runtime::StepArgs& s);
  void reduceMean(const runtime::StepArgs& s, bool grad);
  void transpose(const runtime::StepArgs& s);
};

template <class D>
void DeviceBackend<D>::conv(const runtime::StepArgs& s, runtime::Kernel kernel) {
  using runtime::Kernel;
  if (kernel == Kernel::ChannelSum) {
    const kernels::RowRange r = s.gradRows(0);
    const kernels::RowBand dy = s.inBand(0);
    if (!s.accumulates()) zeroOut(s, 0);  // the accumulating form adds into it
    return conv2d_rows_backward_bias(dev_, s.out(0), dy, r.begin, r.end, workspace(dy.N * dy.C));
  }
  const auto& p = s.params<kernels::Conv2dParams>();
  switch (kernel) {
    case Kernel::Conv2d: {
      const kernels::RowRange r = s.outBand(0).range();
      return conv2d_rows_forward(dev_, s.outBand(0), s.inBand(0), s.in(1),
                                 s.numInputs() == 3 ? s.in(2) : nullptr, p, r.begin, r.end, s.scratch(),
                                 s.scratchFloats());
    }
    case Kernel::Conv2dGradInput: {
      const kernels::RowRange r = s.gradRows(0);
      zeroOut(s, 0);
      return conv2d_rows_backward_data(dev_, s.outBand(0), s.inBand(0), s.in(1), p, r.begin, r.end,
                                       s.scratch(), s.scratchFloats());
    }
    case Kernel::ConvTranspose2d: {
      const kernels::RowRange r = s.outBand(0).range();
      zeroOut(s, 0);
      return conv_transpose2d_rows_forward(dev_, s.outBand(0), s.inBand(0), s.in(1),
                                           s.numInputs() == 3 ? s.in(2) : nullptr, p, r.begin, r.end, s.scratch(),
                                           s.scratchFloats());
    }
    case Kernel::ConvTranspose2dGradInput: {
      const kernels::RowRange r = s.gradRows(0);
      zeroOut(s, 0);
      return conv_transpose2d_rows_backward_data(dev_, s.outBand(0), s.inBand(0), s.in(1), p, r.begin, r.end,
                                                 s.scratch(), s.scratchFloats());
    }
    case Kernel::ConvTranspose2dGradWeight: {
      const kernels::RowRange r = s.gradRows(0);
      if (!s.accumulates()) zeroOut(s, 0);
      return conv_transpose2d_rows_backward_filter(dev_, s.out(0), s.inBand(0), s.inBand(1), p, r.begin, r.end,
                                                   s.scratch(), s.scratchFloats());
    }
    default: {
      const kernels::RowRange r = s.gradRows(0);
      if (!s.accumulates()) zeroOut(s, 0);  // conv2d_grad_weight; the accumulating form adds into it
      return conv2d_rows_backward_filter(dev_, s.out(0), s.inBand(0), s.inBand(1), p, r.begin, r.end,
                                         s.scratch(), s.scratchFloats());
    }
  }
}

template <class D>
void DeviceBackend<D>::batchNorm(const runtime::StepArgs& s) {
  const auto& p = s.params<kernels::BatchNormParams>();
  const float eps = p.epsilon;
  const kernels::RowBand x = s.inMap(0), y = s.outMap(0);
  double* ws = workspace(batchnorm_workspace_doubles(x.N, x.C));
  if (!p.training)
    return batchnorm_frozen_rows_forward(dev_, y, x, s.in(1), s.in(2), s.in(3), s.in(4), eps, y.row0,
                                         y.row0 + y.rows, ws);
  // The batch statistics of the band's rows (--bn strip), the running statistics (operands 3
  // and 4) updated in place unless update_stats=0 (a strip's recompute). The plan's scratch
  // (8 * C bytes) is not used: the statistics live in the backend's workspace.
  const bool update = p.updateStats;
  batchnorm_train_forward(dev_, y, x, s.in(1), s.in(2), update ? s.in(3) : nullptr, update ? s.in(4) : nullptr, eps,
                          p.momentum, ws);
}

// (dy, x, scale, running mean, running var) -> dx, dscale, dbias.
template <class D>
void DeviceBackend<D>::batchNormGrad(const runtime::StepArgs& s) {
  const auto& p = s.params<kernels::BatchNormParams>();
  const float eps = p.epsilon;
  const kernels::RowBand dy = s.inMap(0), x = s.inMap(1), dx = s.outMap(0);
  for (int i = 0; i < 3; ++i) zeroOut(s, i);
  double* ws = workspace(batchnorm_workspace_doubles(x.N, x.C));
  if (!p.training) {
    const kernels::RowRange r = s.gradRows(0);
    return batchnorm_frozen_rows_backward(dev_, dx, s.out(1), s.out(2), dy, x, s.in(2), s.in(3), s.in(4), eps,
                                          r.begin, r.end, ws);
  }
  batchnorm_train_backward(dev_, dx, s.out(1), s.out(2), dy, x, s.in(2), eps, ws);
}

// The mask depends on (seed, training step, element index in the whole map) only, as on the
// CPU (kernels::dropout_hash), so both backends and every strip draw the same mask.
template <class D>
void DeviceBackend<D>::dropout(const runtime::StepArgs& s, const runtime::RunContext& context, bool grad) {
  const auto& [ratio, planSeed, training] = s.params<kernels::DropoutParams>();
  const uint64_t seed = planSeed ^ kernels::dropout_mix(context.seed);
  if (grad) zeroOut(s, 0);
  const DropoutMask mask{seed, context.step, kernels::dropout_keep_threshold(ratio), ratio};
  if (!s.byRows()) {
    if (!training) return copyInToOut(s);
    return dropout_apply(dev_, s.out(0), s.in(0), s.inCount(0), mask, grad);
  }
  // Forward computes its result's rows, backward propagates its rows of dy.
  const kernels::RowRange r = grad ? s.gradRows(0) : s.outBand(0).range();
  if (!training) return copy_rows(dev_, s.outBand(0), s.inBand(0), r.begin, r.end, grad);
  dropout_rows_apply(dev_, s.outBand(0), s.inBand(0), mask, r.begin, r.end, grad);
}

// Identity, and the copies Flatten and Reshape are.
template <class D>
void DeviceBackend<D>::rowsOrCopy(const runtime::StepArgs& s) {
  if (!s.byRows()) return copyInToOut(s);
  const kernels::RowRange r = s.outBand(0).range();
  copy_rows(dev_, s.outBand(0), s.inBand(0), r.begin, r.end, false);
}

// rows_copy and rows_sum: the result band assembled from the operand bands.
template <class D>
void DeviceBackend<D>::combineRows(const runtime::StepArgs& s, bool sum) {
  const kernels::RowBand dst = s.outBand(0);
  zeroOut(s, 0);
  for (int i = 0; i < s.numInputs(); ++i) {
    const kernels::RowBand src = s.inBand(i);
    const int64_t a = std::max(dst.row0, src.row0), b = std::min(dst.row0 + dst.rows, src.row0 + src.rows);
    if (a < b) copy_rows(dev_, dst, src, a, b, sum);
  }
}

// The binary family (runtime/kernels/Binary.h): bands of one map by rows, the rest
// (broadcasting, a per-channel operand on rows) by the strided loop (runtime/ElementLoops.h).
template <class D>
template <class F>
void DeviceBackend<D>::binary(const runtime::StepArgs& s) {
  if (s.byRows() && s.inBuffer(0).height > 0 && s.inBuffer(1).height > 0) {
    const kernels::RowRange r = s.outBand(0).range();
    return binary_rows<F>(dev_, s.outBand(0), s.inBand(0), s.inBand(1), r.begin, r.end);
  }
  const runtime::ElementLoop l = runtime::elementLoop(s, false);
  run_loop(dev_, l.result, l.loop, kernels::BinaryTerm<F>{l.operands[0], l.operands[1]});
}

// (dy, a, b) -> the gradient of one operand, summed over its broadcast axes.
template <class D>
template <class F>
void DeviceBackend<D>::binaryGrad(const runtime::StepArgs& s) {
  zeroOut(s, 0);
  const runtime::ElementLoop l = runtime::elementLoop(s, true);
  run_loop(dev_, l.result, l.loop,
           kernels::BinaryGradTerm<F>{l.operands[0], l.operands[1], l.operands[2],
                                      s.params<kernels::BinaryGradParams>().operand});
}

// Sums the axes that broadcasting added or stretched away: the result has the shape attribute.
template <class D>
void DeviceBackend<D>::sumTo(const runtime::StepArgs& s) {
  const runtime::Shape& x = s.inShape(0);
  const kernels::ReduceLoop loop = kernels::ReduceLoop::over(x, runtime::broadcastStrides(s.outShape(0), x));
  run_loop(dev_, s.out(0), loop, kernels::ValueTerm{loop.operand(s.in(0), kernels::contiguousStrides(x))});
}

// reduce_mean and its gradient (dy broadcast back, over the count; with `sum`, ReduceSum's).
template <class D>
void DeviceBackend<D>::reduceMean(const runtime::StepArgs& s, bool grad) {
  const kernels::ReduceMeanParams& p = s.params<kernels::ReduceMeanParams>();
  const runtime::ElementLoop l = runtime::reduceMeanLoop(s, p.axes, grad);
  run_loop(dev_, l.result, l.loop, kernels::ValueTerm{l.operands[0]},
           runtime::reduceMeanScale(grad ? s.outShape(0) : s.inShape(0), p));
}

// transpose: x read through its permuted strides (its gradient: the inverse permutation).
template <class D>
void DeviceBackend<D>::transpose(const runtime::StepArgs& s) {
  const runtime::ElementLoop l = runtime::transposeLoop(s, s.params<kernels::TransposeParams>().perm);
  run_loop(dev_, l.result, l.loop, kernels::ValueTerm{l.operands[0]});
}

template <class D>
void DeviceBackend<D>::run(const runtime::PreparedStep& step, const runtime::RunContext& context) {
  using runtime::Kernel;
  const runtime::StepArgs s(arena_, step);
  switch (step.kernel) {
    case Kernel::Conv2d:
    case Kernel::Conv2dGradInput:
    case Kernel::Conv2dGradWeight:
    case Kernel::ConvTranspose2d:
    case Kernel::ConvTranspose2dGradInput:
    case Kernel::ConvTranspose2dGradWeight:
    case Kernel::ChannelSum:
      return conv(s, step.kernel);
#define LRC_UNARY_CASES(Forward, Grad, F)                                                             \
  case Kernel::Forward: {                                                                               \
    const F f = kernels::unaryOf<F>(s.params<kernels::UnaryParams>());                                  \
    if (!s.byRows()) return unary_forward(dev_, f, s.out(0), s.in(0), s.inCount(0));                    \
    const kernels::RowRange r = s.outBand(0).range();                                                   \
    return unary_rows_forward(dev_, f, s.outBand(0), s.inBand(0), r.begin, r.end);                      \
  }                                                                                                     \
  case Kernel::Grad: { /* (dy, saved) */                                                                \
    const F f = kernels::unaryOf<F>(s.params<kernels::UnaryParams>());                                  \
    zeroOut(s, 0);                                                                                      \
    if (!s.byRows()) return unary_backward(dev_, f, s.out(0), s.in(0), s.in(1), s.inCount(0));          \
    const kernels::RowRange r = s.gradRows(0);                                                          \
    return unary_rows_backward(dev_, f, s.outBand(0), s.inBand(0), s.inBand(1), r.begin, r.end);        \
  }
    LRC_UNARY_KERNELS(LRC_UNARY_CASES)
#undef LRC_UNARY_CASES
    case Kernel::MaxPool:
    case Kernel::AveragePool: {
      const bool average = step.kernel == Kernel::AveragePool;
      const kernels::RowRange r = s.outBand(0).range();
      return pool2d_rows_forward(dev_, s.outBand(0), s.inBand(0), s.params<kernels::Pool2dParams>(), average,
                                 r.begin, r.end);
    }
    case Kernel::MaxPoolGrad:
    case Kernel::AveragePoolGrad: {
      const bool average = step.kernel == Kernel::AveragePoolGrad;
      const kernels::RowRange r = s.gradRows(0);
      zeroOut(s, 0);
      const kernels::RowBand x = average ? kernels::RowBand{} : s.inBand(1);
      return pool2d_rows_backward(dev_, s.outBand(0), s.inBand(0), x, s.params<kernels::Pool2dParams>(), average,
                                  r.begin, r.end);
    }
    case Kernel::Resize: {
      const kernels::RowRange r = s.outBand(0).range();
      return resize_rows_forward(dev_, s.outBand(0), s.inBand(0), s.params<kernels::ResizeParams>(), r.begin, r.end);
    }
    case Kernel::ResizeGrad: {
      const kernels::RowRange r = s.gradRows(0);
      zeroOut(s, 0);
      return resize_rows_backward(dev_, s.outBand(0), s.inBand(0), s.params<kernels::ResizeParams>(), r.begin, r.end);
    }
    case Kernel::GlobalAvgPool: {
      const runtime::Shape& x = s.inShape(0);
      return global_avgpool_forward(dev_, s.out(0), s.in(0), x[0] * x[1], x[2] * x[3]);
    }
    case Kernel::GlobalAvgPoolGrad: {
      const runtime::Shape& x = s.outShape(0);
      return global_avgpool_backward(dev_, s.out(0), s.in(0), x[0] * x[1], x[2] * x[3]);
    }
    case Kernel::ReduceMean:
      return reduceMean(s, false);
    case Kernel::ReduceMeanGrad:
      return reduceMean(s, true);
    case Kernel::Pad: {
      const kernels::RowRange r = s.outBand(0).range();
      return pad_rows_forward(dev_, s.outBand(0), s.inBand(0), s.params<kernels::PadParams>(), r.begin, r.end);
    }
    case Kernel::BatchNorm:
      return batchNorm(s);
    case Kernel::BatchNormGrad:
      return batchNormGrad(s);
    case Kernel::BatchNormStats: {
      const auto& p = s.params<kernels::BatchNormParams>();
      const kernels::RowBand x = s.inMap(0);
      double* ws = workspace(batchnorm_workspace_doubles(x.N, x.C));
      if (p.sync && context.collective != nullptr)
        return batchnorm_stats_synced(dev_, s.out(0), s.out(1), s.in(1), s.in(2), x, p.epsilon, p.momentum, ws,
                                      context.collective->size(),
                                      [&](double* sums, int64_t n) { context.collective->sumNow(sums, n); });
      return batchnorm_stats(dev_, s.out(0), s.out(1), s.in(1), s.in(2), x, p.epsilon, p.momentum, ws);
    }
    case Kernel::LayerNorm:
    case Kernel::LayerNormGrad: {
      // runtime/LayerNormSteps.h's passes, one thread per group (per element for the parameter
      // sums); the group statistics in the workspace. A gradient's dx is zeroed first (on a
      // band, rows outside dy's `rows` get no value).
      if (step.kernel == Kernel::LayerNormGrad) zeroOut(s, 0);
      const auto launch = [this](int64_t n, const auto& f) { dev_.forEach(n, f); };
      return runLayerNormStep(s, launch, [this](int64_t n) { return workspace(n); });
    }
    case Kernel::BatchNormApply: {
      const kernels::RowBand y = s.outMap(0);
      return batchnorm_apply_rows(dev_, y, s.inMap(0), s.in(3), s.in(4), s.in(1), s.in(2), y.row0, y.row0 + y.rows,
                                  s.params<kernels::BatchNormParams>().relu);
    }
    case Kernel::BatchNormApplyGrad: {
      for (int i = 0; i < 5; ++i) zeroOut(s, i);
      const kernels::RowBand x = s.inMap(1);
      const kernels::RowRange r = s.gradRows(0);
      return batchnorm_apply_backward_rows(dev_, s.outMap(0), s.out(1), s.out(2), s.out(3), s.out(4), s.inMap(0), x,
                                           s.in(2), s.in(3), s.in(4), r.begin, r.end,
                                           workspace(batchnorm_workspace_doubles(x.N, x.C)),
                                           s.params<kernels::BatchNormParams>().relu ? s.in(5) : nullptr);
    }
    case Kernel::BatchNormStatsGrad: {
      const kernels::RowBand acc = s.numInputs() == 6 ? s.inMap(5) : kernels::RowBand{};
      return batchnorm_stats_backward(dev_, s.outMap(0), s.inMap(0), acc, s.in(1), s.in(2), s.in(3), s.in(4));
    }
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
      // runtime/AxisCopySteps.h: the CPU's copies, one thread per element.
      if (step.kernel == Kernel::SliceGrad) zeroOut(s, 0);
      for (const kernels::AxisCopyJob& job : runtime::axisCopies(s))
        forRows(dev_, job.copy.dst.N, job.count, job.copy.dst.W, job.rows.begin, job.rows.end, job.copy);
      return;
    case Kernel::Transpose:
      return transpose(s);
    case Kernel::SumTo:
      return sumTo(s);
    case Kernel::Flatten:
    case Kernel::Reshape:
      return copyInToOut(s);
    case Kernel::Identity:
      return rowsOrCopy(s);
    case Kernel::Gemm:
    case Kernel::MatMul:
      return gemm_forward(dev_, s.out(0), s.in(0), s.in(1), s.numInputs() == 3 ? s.in(2) : nullptr,
                          s.params<kernels::GemmParams>());
    case Kernel::Softmax: {
      const auto& [outer, classes, inner] = s.params<kernels::SoftmaxParams>();
      return softmax_forward(dev_, s.out(0), s.in(0), outer, classes, inner);
    }
    case Kernel::SoftmaxXent:
    case Kernel::SoftmaxXentGrad: {
      const runtime::Shape& logits = s.inShape(0);
      const XentStatus report{&status()->badLabel, &status()->sample, &status()->label, &status()->classes};
      lossSinceCheck_ = true;
      if (step.kernel == Kernel::SoftmaxXent)
        return softmax_xent_forward(dev_, s.out(0), s.in(0), s.inInts(1), logits[0], logits[1],
                                    workspace(logits[0]), report);
      return softmax_xent_backward(dev_, s.out(0), s.in(0), s.inInts(1), logits[0], logits[1], report);
    }
    case Kernel::PixelXent:
    case Kernel::PixelXentGrad: {
      const runtime::Shape& x = s.inShape(0);
      const XentStatus report{&status()->badLabel, &status()->sample, &status()->label, &status()->classes};
      const int64_t ignore = s.params<kernels::PixelXentParams>().ignoreIndex;
      // The logits may be a row band (the loss in a row pipeline); the labels are whole [N,H,W].
      const int64_t H = s.inShape(1)[1];
      const kernels::PixelXentBand band{s.inBuffer(0).row0, x[2]};
      double* ws = workspace(pixel_xent_workspace_doubles(x[0], H));
      lossSinceCheck_ = true;
      if (step.kernel == Kernel::PixelXent)
        return pixel_xent_forward(dev_, s.out(0), s.in(0), s.inInts(1), x[0], x[1], H, x[3], ignore, ws, report, band);
      return pixel_xent_backward(dev_, s.out(0), s.in(0), s.inInts(1), x[0], x[1], H, x[3], ignore, ws, report, band);
    }
    case Kernel::Dropout:
      return dropout(s, context, false);
    case Kernel::DropoutGrad:
      return dropout(s, context, true);
    case Kernel::RowsCopy:
      return combineRows(s, false);
    case Kernel::RowsSum:
      return combineRows(s, true);
    case Kernel::AllreduceStart:
      return startAverage(s, context);
    case Kernel::AllreduceWait:
      return endAverage(s, context);
    case Kernel::SgdUpdate:
      return sgd_update(dev_, s.in(0), s.in(2), s.in(1), s.inCount(0), context.optimizer);
    case Kernel::AdamwUpdate:
      return adamw_update(dev_, s.in(0), s.in(2), s.in(3), s.in(4), s.in(1), s.inCount(0), context.optimizer);
    case Kernel::SgdMomentumScale:
      return sgd_momentum_scale(dev_, s.in(0), s.inCount(0), context.optimizer);
    case Kernel::SgdApply:
      return sgd_apply(dev_, s.in(0), s.in(1), s.inCount(0), context.optimizer);
  }
}

}  // namespace lrc::cuda
