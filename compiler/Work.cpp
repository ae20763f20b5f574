#include "compiler/Work.h"

#include "ops/Checked.h"

namespace lrc::compiler {

namespace {

using ir::OpKind;
using ops::Checked;

// Output positions (N * rows * W) of the map `v` an op computes or propagates: `rows` when
// given, else all rows of `v` (a band's own rows).
Checked positions(const ir::Op& op, const ir::Value* v) {
  const auto& s = v->type.shape;
  int64_t rows = s.at(2);
  if (op.has("rows")) rows = op.getInts("rows").at(1) - op.getInts("rows").at(0);
  return Checked(s.at(0)) * rows * s.at(3);
}

// The positions (N * rows * W) a map or band holds.
Checked heldPositions(const ir::Value* v) {
  const auto& s = v->type.shape;
  return Checked(s.at(0)) * s.at(2) * s.at(3);
}

// The tensor an op computes: result 0, or an accumulating op's accumulator (its last operand).
const ir::Value* produced(const ir::Op& op) { return op.accumulates() ? op.operands.back() : op.result(); }

// Multiply-adds per output position of a convolution with weight `w` [Co, Ci/g, kh, kw].
Checked perPosition(const ir::Value* w) { return ops::product(w->type.shape); }

Checked checkedMultiplyAdds(const ir::Op& op) {
  switch (op.kind) {
    case OpKind::Conv2d: return positions(op, op.result()) * perPosition(op.operands[1]);
    case OpKind::Conv2dGradInput: return positions(op, op.operands[0]) * perPosition(op.operands[1]);
    case OpKind::Conv2dGradWeight: return positions(op, op.operands[0]) * perPosition(produced(op));
    // The transposed convolution multiplies every position its input-shaped map x (or band) holds.
    case OpKind::ConvTranspose2d: return heldPositions(op.operands[0]) * perPosition(op.operands[1]);
    case OpKind::ConvTranspose2dGradInput: return heldPositions(op.result()) * perPosition(op.operands[1]);
    case OpKind::ConvTranspose2dGradWeight: return heldPositions(op.operands[1]) * perPosition(produced(op));
    case OpKind::Gemm:
    case OpKind::MatMul: {
      const auto& a = op.operands[0]->type.shape;
      const auto& y = produced(op)->type.shape;  // accumulating: the accumulator's
      const bool transA = op.kind == OpKind::Gemm && op.getInt("transA") != 0;
      return Checked(y.at(0)) * y.at(1) * (transA ? a.at(0) : a.at(1));
    }
    default: return 0;
  }
}

// Each tensor's size fits int64, but a product of three of them need not (--batch 2^40).
int64_t counted(Checked n, const std::string& what, ir::Location loc = {}) {
  if (const std::optional<int64_t> v = n.value()) return *v;
  throw ir::Error(what + ": its multiply-adds are more than int64 counts", loc);
}

}  // namespace

int64_t multiplyAdds(const ir::Op& op) { return counted(checkedMultiplyAdds(op), op.describe(), op.loc); }

int64_t multiplyAdds(const ir::Module& m) {
  Checked total = 0;
  for (const auto& op : m.ops) total += multiplyAdds(*op);
  return counted(total, "module @" + m.name);
}

}  // namespace lrc::compiler
