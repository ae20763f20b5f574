// The op table (ops/Ops.def) as C++: one kind enum and one record per kind. Depends on
// nothing but the standard library, so the IR, the passes and the runtime all read it.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace lrc::ops {

enum class OpKind {
#define OP(E, ...) E,
#include "ops/Ops.def"
};

// Where an op belongs in a training program.
// FusedOptimizer: the two halves of an update whose gradient kernels accumulate into the
// optimizer state (sgd_momentum_scale, sgd_apply); they update their operands in place.
enum class Role { Forward, Loss, Backward, Optimizer, FusedOptimizer, Rows, Collective };

// Which rows of a row-indexed operand the result's rows read (Ops.def's last column).
enum class RowRule { None, Same, Window, Transposed, Resize, Pad };

inline constexpr int kAllOperands = std::numeric_limits<int>::max();

struct OpInfo {
  std::string_view name;
  int minOperands, maxOperands, results;  // results -1: as many as the op says (pipeline_grad)
  Role role;
  int bandOperands;   // leading operands that may be row bands
  bool bandResult;    // result 0 may be a row band
  bool takesRows;     // a backward kernel with `rows=[a,b]`
  RowRule rowRule;
  bool kernel;        // a plan step can name it
};

inline constexpr std::array kOps = {
#define OP(E, N, MIN, MAX, RES, ROLE, BANDS, BANDRES, ROWS, RULE) \
  OpInfo{N, MIN, MAX, RES, Role::ROLE, BANDS, BANDRES, ROWS, RowRule::RULE, true},
#define IR_OP(E, N, MIN, MAX, RES, ROLE, BANDS, BANDRES, ROWS, RULE) \
  OpInfo{N, MIN, MAX, RES, Role::ROLE, BANDS, BANDRES, ROWS, RowRule::RULE, false},
#include "ops/Ops.def"
};

// As ggml does next to its tables: a kind added to Ops.def must be looked at here, and by
// every exhaustive switch over OpKind (no `default:`), before anything compiles.
inline constexpr int kOpCount = static_cast<int>(kOps.size());
static_assert(kOpCount == 77, "ops/Ops.def changed: update kOpCount's check and docs/adding-an-op.md's list");

constexpr const OpInfo& info(OpKind k) { return kOps[static_cast<size_t>(k)]; }
constexpr std::string_view name(OpKind k) { return info(k).name; }

constexpr std::optional<OpKind> kindByName(std::string_view name) {
  for (size_t i = 0; i < kOps.size(); ++i)
    if (kOps[i].name == name) return static_cast<OpKind>(i);
  return std::nullopt;
}

// The losses (append-loss makes one: softmax_xent on [N,K] logits, pixel_xent on [N,K,H,W]),
// which end the forward part of a training module, and the gradient kernel that starts its
// backward part.
constexpr bool isLoss(OpKind k) { return info(k).role == Role::Loss; }
constexpr bool isLossGradient(OpKind k) { return k == OpKind::SoftmaxXentGrad || k == OpKind::PixelXentGrad; }

// Autodiff and the loss make these; a forward graph given to them holds none.
constexpr bool isTrainingOp(OpKind k) { return info(k).role != Role::Forward && info(k).role != Role::Rows; }

// The binary element-wise family (runtime/kernels/Binary.h): numpy broadcasting, and on row
// bands a whole per-channel operand (ops::isRowBroadcast).
constexpr bool isBinaryElementwise(OpKind k) {
  return k == OpKind::Add || k == OpKind::Sub || k == OpKind::Mul || k == OpKind::Div;
}

// The unary point-wise family: y[i] = f(x[i]) element by element, one operand (attributes
// aside), nothing moved between elements (unlike slice, channel_shuffle) and nothing drawn
// (unlike dropout). A unary kind added to Ops.def belongs here when that holds.
constexpr bool isUnaryPointwise(OpKind k) {
  return k == OpKind::Relu || k == OpKind::Sigmoid || k == OpKind::HardSigmoid || k == OpKind::HardSwish ||
         k == OpKind::Clip || k == OpKind::Erf || k == OpKind::Sqrt || k == OpKind::Pow || k == OpKind::Identity;
}

// An optimizer's update (ops/Optimizer.h): operands (param, grad, state...), updated in place.
constexpr bool isOptimizerUpdate(OpKind k) { return info(k).role == Role::Optimizer; }
// A step of a fused update (role FusedOptimizer): updates its operands in place.
constexpr bool isFusedOptimizerStep(OpKind k) { return info(k).role == Role::FusedOptimizer; }

// The weight-gradient kernels with an accumulating form (attribute accumulate=1): the tensor
// their result would be is one more, last, operand, which they add into in place; no result.
// passes/FuseSgdGrads.cpp makes them; both backends skip the result's clearing (GEMM beta 1).
constexpr bool canAccumulate(OpKind k) {
  return k == OpKind::Conv2dGradWeight || k == OpKind::ConvTranspose2dGradWeight || k == OpKind::ChannelSum ||
         k == OpKind::Gemm;
}

// A data-parallel collective (allreduce_start/allreduce_wait): updates its operands in place.
constexpr bool isCollective(OpKind k) { return info(k).role == Role::Collective; }

}  // namespace lrc::ops
