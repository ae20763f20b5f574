#include "passes/RowPipelines.h"

namespace lrc::passes {

using ir::IntList;
using ir::Op;
using ir::OpKind;
using ir::TensorType;
using ir::Value;

std::vector<size_t> mapOperands(const Op& op) {
  if (op.kind == OpKind::Add) return {0, 1};
  return {0};
}

int64_t heightOf(const Value* v) { return v->type.shape.at(2); }

RowRange rowsOf(const Value* v) {
  if (auto b = ir::bandOf(*v)) return {b->begin, b->end};
  return {0, heightOf(v)};
}

TensorType bandType(const Value* whole, RowRange r) {
  TensorType t = whole->type;
  t.shape.at(2) = r.size();
  return t;
}

IntList bandAttr(RowRange r, const Value* whole) { return {r.begin, r.end, heightOf(whole)}; }
IntList rowsAttr(RowRange r) { return {r.begin, r.end}; }

bool isStripBatchNorm(const Op& op) {
  return op.kind == OpKind::BatchNorm && op.getInt("training") != 0 && op.has("strip_stats");
}

}  // namespace lrc::passes
