// The optimizers a plan can train with, once: each one's name (lrc-compile --optimizer, the
// plan's text), its update op (ops/Ops.def, role Optimizer: operands (param, grad, state...))
// and the state it keeps per parameter, in the update's operand order. The autodiff pass makes
// the state globals and the updates from this table; the plan emitter gives those globals the
// role optimizer state; the plan loader checks a plan's update steps against its optimizer.
// The update math, shared by both backends, is runtime/kernels/Optimizer.h; the
// hyper-parameters' defaults and flags are tools/OptimizerFlags.h's.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "ops/OpTable.h"

namespace lrc::ops {

enum class Optimizer { Sgd, AdamW };

// One kind of state an optimizer keeps per parameter: `<param>.<suffix>`, zero-initialized,
// of the parameter's type or (a step count, as torch keeps it) f32[].
struct OptimizerState {
  std::string_view suffix;
  std::string_view role;  // in messages
  bool scalar = false;
};

struct OptimizerInfo {
  std::string_view name;
  OpKind update;
  std::array<OptimizerState, 3> state;
  int stateCount;  // the first stateCount entries of `state`
  // The fused form (passes/FuseSgdGrads.cpp), where the optimizer has one: the step before the
  // parameter's first gradient contribution accumulates into state 0, and the update after the
  // last. Operands: (state 0) and (param, state 0).
  std::optional<OpKind> fusedScale = std::nullopt, fusedApply = std::nullopt;
};

inline constexpr std::array kOptimizers = {
    // torch.optim.SGD (dampening 0; Nesterov and the hyper-parameters are run settings).
    OptimizerInfo{"sgd", OpKind::SgdUpdate, {{{"momentum", "momentum buffer", false}}}, 1, OpKind::SgdMomentumScale,
                  OpKind::SgdApply},
    // torch.optim.AdamW (amsgrad off): first and second moments and the step count of the
    // bias corrections.
    OptimizerInfo{"adamw", OpKind::AdamwUpdate, {{{"exp_avg", "first moment", false},
                                             {"exp_avg_sq", "second moment", false},
                                             {"step", "step count", true}}}, 3},
};

// Every update op is one optimizer's, with operands (param, grad, state...).
static_assert(
    [] {
      int updates = 0;
      for (const OpInfo& op : kOps) updates += op.role == Role::Optimizer;
      for (const OptimizerInfo& o : kOptimizers) {
        const OpInfo& op = info(o.update);
        if (op.role != Role::Optimizer || op.minOperands != 2 + o.stateCount || op.maxOperands != op.minOperands)
          return false;
      }
      return updates == static_cast<int>(kOptimizers.size());
    }(),
    "ops/Optimizer.h: every Optimizer row of ops/Ops.def is one optimizer's update, (param, grad, state...)");

// Every fused step is one optimizer's.
static_assert(
    [] {
      int fused = 0, named = 0;
      for (const OpInfo& op : kOps) fused += op.role == Role::FusedOptimizer;
      for (const OptimizerInfo& o : kOptimizers) named += o.fusedScale.has_value() + o.fusedApply.has_value();
      return fused == named;
    }(),
    "ops/Optimizer.h: every FusedOptimizer row of ops/Ops.def is one optimizer's fusedScale or fusedApply");

constexpr const OptimizerInfo& info(Optimizer o) { return kOptimizers[static_cast<size_t>(o)]; }

constexpr std::optional<Optimizer> optimizerByName(std::string_view name) {
  for (size_t i = 0; i < kOptimizers.size(); ++i)
    if (kOptimizers[i].name == name) return static_cast<Optimizer>(i);
  return std::nullopt;
}

// The optimizer whose update op is `update` (an op with role Optimizer).
constexpr std::optional<Optimizer> optimizerOfUpdate(OpKind update) {
  for (size_t i = 0; i < kOptimizers.size(); ++i)
    if (kOptimizers[i].update == update) return static_cast<Optimizer>(i);
  return std::nullopt;
}

// The optimizer whose fused form has step `step` (an op with role FusedOptimizer).
constexpr std::optional<Optimizer> optimizerOfFusedStep(OpKind step) {
  for (size_t i = 0; i < kOptimizers.size(); ++i)
    if (kOptimizers[i].fusedScale == step || kOptimizers[i].fusedApply == step) return static_cast<Optimizer>(i);
  return std::nullopt;
}

}  // namespace lrc::ops
