// The interface a device implements to run plans (after llm.c and ggml: one arena, copies in
// and out, one call per step). The CPU backend (runtime/cpu/CpuBackend) is the reference;
// a CUDA backend implements the same interface. Backends get validated plans only
// (runtime/PlanLoader.h): they may rely on every index, shape and attribute being right.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/plan/Plan.h"

namespace lrc::runtime {

// Every kernel a plan step can name (the IR op names, ir/Ops.def; pipeline_grad is not one:
// lower-row-pipelines replaces it before a plan is emitted), in one list.
#define LRC_KERNELS(K)                        \
  K(Conv2d, "conv2d")                         \
  K(Relu, "relu")                             \
  K(MaxPool, "maxpool")                       \
  K(AveragePool, "avgpool")                   \
  K(GlobalAvgPool, "global_avgpool")          \
  K(Pad, "pad")                               \
  K(BatchNorm, "batchnorm")                   \
  K(Add, "add")                               \
  K(Flatten, "flatten")                       \
  K(Reshape, "reshape")                       \
  K(Gemm, "gemm")                             \
  K(MatMul, "matmul")                         \
  K(Dropout, "dropout")                       \
  K(Identity, "identity")                     \
  K(Softmax, "softmax")                       \
  K(SoftmaxXent, "softmax_xent")              \
  K(SoftmaxXentGrad, "softmax_xent_grad")     \
  K(Conv2dGradInput, "conv2d_grad_input")     \
  K(Conv2dGradWeight, "conv2d_grad_weight")   \
  K(ChannelSum, "channel_sum")                \
  K(ReluGrad, "relu_grad")                    \
  K(MaxPoolGrad, "maxpool_grad")              \
  K(AveragePoolGrad, "avgpool_grad")          \
  K(GlobalAvgPoolGrad, "global_avgpool_grad") \
  K(BatchNormGrad, "batchnorm_grad")          \
  K(DropoutGrad, "dropout_grad")              \
  K(SumTo, "sum_to")                          \
  K(SgdUpdate, "sgd_update")                  \
  K(RowsCopy, "rows_copy")                    \
  K(RowsSum, "rows_sum")

enum class Kernel {
#define LRC_KERNEL_ENUM(e, name) e,
  LRC_KERNELS(LRC_KERNEL_ENUM)
#undef LRC_KERNEL_ENUM
};

inline std::optional<Kernel> kernelByName(std::string_view name) {
#define LRC_KERNEL_MATCH(e, text) \
  if (name == text) return Kernel::e;
  LRC_KERNELS(LRC_KERNEL_MATCH)
#undef LRC_KERNEL_MATCH
  return std::nullopt;
}

// What a step needs besides its buffers and attributes.
struct RunContext {
  const plan::Plan* plan = nullptr;             // the buffer table: shapes and arena offsets
  uint64_t step = 0;                            // training steps done before this one: Dropout's mask counter
  float lr = 0, momentum = 0, weightDecay = 0;  // SGD, as torch.optim.SGD
  uint64_t seed = 0;                            // the run's --seed, mixed into every Dropout's seed
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string name() const = 0;
  virtual bool supports(std::string_view kernel) const = 0;

  // One allocation of exactly `bytes` (64-byte aligned), followed by a guard region; both
  // are filled with a canary pattern so that measuredPeakBytes() can tell which bytes any
  // kernel or copy touched. Throws std::runtime_error when it cannot.
  virtual void allocateArena(uint64_t bytes) = 0;
  virtual void copyIn(uint64_t offset, const void* src, uint64_t bytes) = 0;
  virtual void copyOut(uint64_t offset, void* dst, uint64_t bytes) = 0;
  virtual void zero(uint64_t offset, uint64_t bytes) = 0;

  // Runs one step of a validated plan. Kernel errors are std::exceptions.
  virtual void run(const plan::Step& step, const RunContext& context) = 0;
  virtual void synchronize() = 0;

  // 1 + the highest arena offset whose byte differs from the canary (0 if none): the memory
  // the run really touched, measured. Throws std::runtime_error when the guard region after
  // the arena changed ("a kernel wrote past the arena").
  virtual uint64_t measuredPeakBytes() = 0;

  // For a device with its own memory: one line on what the run holds there (the arena, and
  // apart from it the backend's and the libraries' workspaces); "" for the host.
  virtual std::string memoryReport() { return ""; }
};

}  // namespace lrc::runtime
