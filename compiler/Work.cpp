#include "compiler/Work.h"

namespace lrc::compiler {

namespace {

using ir::OpKind;

// Output positions (N * rows * W) of the map `v` an op computes or propagates: `rows` when
// given, else all rows of `v` (a band's own rows).
int64_t positions(const ir::Op& op, const ir::Value* v) {
  const auto& s = v->type.shape;
  int64_t rows = s.at(2);
  if (op.has("rows")) rows = op.getInts("rows").at(1) - op.getInts("rows").at(0);
  return s.at(0) * rows * s.at(3);
}

// Multiply-adds per output position of a convolution with weight `w` [Co, Ci/g, kh, kw].
int64_t perPosition(const ir::Value* w) {
  const auto& s = w->type.shape;
  return s.at(0) * s.at(1) * s.at(2) * s.at(3);
}

}  // namespace

int64_t multiplyAdds(const ir::Op& op) {
  switch (op.kind) {
    case OpKind::Conv2d: return positions(op, op.result()) * perPosition(op.operands[1]);
    case OpKind::Conv2dGradInput: return positions(op, op.operands[0]) * perPosition(op.operands[1]);
    case OpKind::Conv2dGradWeight: return positions(op, op.operands[0]) * perPosition(op.result());
    case OpKind::Gemm:
    case OpKind::MatMul: {
      const auto& a = op.operands[0]->type.shape;
      const auto& y = op.result()->type.shape;
      const bool transA = op.kind == OpKind::Gemm && op.getInt("transA") != 0;
      return y.at(0) * y.at(1) * (transA ? a.at(0) : a.at(1));
    }
    default: return 0;
  }
}

int64_t multiplyAdds(const ir::Module& m) {
  int64_t total = 0;
  for (const auto& op : m.ops) total += multiplyAdds(*op);
  return total;
}

}  // namespace lrc::compiler
