// The interface a device implements to run plans (after llm.c and ggml: one arena, copies in
// and out, one call per step). The CPU backend (runtime/cpu/CpuBackend) is the reference;
// a CUDA backend implements the same interface. Backends run the prepared steps
// (runtime/PreparedStep.h) of validated plans only (runtime/PlanChecks.h): they may rely on
// every index, shape and parameter being right.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ops/OpTable.h"
#include "runtime/kernels/Optimizer.h"

namespace lrc::runtime {

// Every kernel a plan step can name: the rows of the op table (ops/Ops.def) except its IR_OP
// rows (pipeline_grad: lower-row-pipelines replaces it before a plan is emitted). A kernel's
// value is its op kind's, so `opKind(kernel)` reads its row of the table.
enum class Kernel {
#define OP(E, ...) E = static_cast<int>(ops::OpKind::E),
#define IR_OP(...)
#include "ops/Ops.def"
};

constexpr ops::OpKind opKind(Kernel k) { return static_cast<ops::OpKind>(k); }
constexpr const ops::OpInfo& kernelInfo(Kernel k) { return ops::info(opKind(k)); }

inline std::optional<Kernel> kernelByName(std::string_view name) {
  const std::optional<ops::OpKind> kind = ops::kindByName(name);
  if (!kind || !ops::info(*kind).kernel) return std::nullopt;
  return static_cast<Kernel>(*kind);
}

struct PreparedStep;  // runtime/PreparedStep.h
class Collective;     // runtime/Collective.h

// What a step needs besides its buffers and parameters.
struct RunContext {
  uint64_t step = 0;                    // training steps done before this one: Dropout's mask counter
  kernels::OptimizerParams optimizer;   // this step's hyper-parameters (its lr is the schedule's)
  uint64_t seed = 0;                    // the run's --seed, mixed into every Dropout's seed
  Collective* collective = nullptr;     // the job's other ranks (data parallel); null: one process
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string name() const = 0;
  virtual bool supports(Kernel kernel) const = 0;

  // One allocation of exactly `bytes` (64-byte aligned), followed by a guard region; both
  // are filled with a canary pattern so that measuredPeakBytes() can tell which bytes any
  // kernel or copy touched. Throws std::runtime_error when it cannot.
  virtual void allocateArena(uint64_t bytes) = 0;
  virtual void copyIn(uint64_t offset, const void* src, uint64_t bytes) = 0;
  virtual void copyOut(uint64_t offset, void* dst, uint64_t bytes) = 0;
  virtual void zero(uint64_t offset, uint64_t bytes) = 0;

  // Runs one prepared step of a validated plan. Kernel errors are std::exceptions.
  virtual void run(const PreparedStep& step, const RunContext& context) = 0;
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
