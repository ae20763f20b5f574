#include "passes/RowPipelines.h"

#include <optional>
#include <string>

#include "passes/PassOptions.h"

namespace lrc::passes {

using ir::IntList;
using ir::Op;
using ir::OpKind;
using ir::TensorType;
using ir::Value;

namespace {

Table readTable(const Pipeline& p, const char* key) {
  Table t;
  for (const Op* op : p.ops) {
    if (!op->has(key)) throw ir::Error(cat("lower-row-pipelines: ", op->describe(), " has no '", key, "'; run partition-rows first"), op->loc);
    const IntList& l = op->getInts(key);
    std::vector<RowRange> rows;
    for (size_t i = 0; i + 1 < l.size(); i += 2) rows.push_back({l[i], l[i + 1]});
    t.push_back(std::move(rows));
  }
  for (const auto& rows : t)
    if (rows.size() != t.front().size())
      throw ir::Error(cat("lower-row-pipelines: pipeline ", std::to_string(p.id), ": ops disagree on the number of strips in '", key, "'"),
                      p.ops.front()->loc);
  return t;
}

}  // namespace

std::map<int64_t, Pipeline> collectPipelines(ir::Module& m) {
  std::map<int64_t, Pipeline> byId;
  for (auto& op : m.ops) {
    const bool grad = op->kind == OpKind::PipelineGrad;
    if (!grad && (!op->has("pipeline") || !op->has("fp_rows"))) continue;
    Pipeline& p = byId[op->getInt("pipeline")];
    p.id = op->getInt("pipeline");
    if (grad) {
      p.grad = op.get();
      continue;
    }
    p.index[op->result()] = p.ops.size();
    p.ops.push_back(op.get());
  }
  std::map<const Op*, int64_t> pipelineOf;  // recomputed point -> the pipeline that computes its map
  for (auto& op : m.ops) {
    const Op* def = isRecomputedPoint(*op) ? op->operands[0]->def : nullptr;
    if (!def || !def->has("pipeline") || !def->has("fp_rows")) continue;
    byId[def->getInt("pipeline")].reductions.push_back(op.get());
    pipelineOf[op.get()] = def->getInt("pipeline");
  }
  const std::map<const Op*, const Op*> gates = pointGates(m);
  for (auto& op : m.ops)
    if (auto gate = gates.find(op.get()); gate != gates.end() && pipelineOf.count(gate->second))
      byId[pipelineOf.at(gate->second)].gates.push_back(op.get());
  return byId;
}

void readRows(Pipeline& p) {
  if (p.ops.empty())
    throw ir::Error(cat("lower-row-pipelines: ", p.grad->describe(), " names pipeline ", std::to_string(p.id),
                        ", which has no partitioned ops"),
                    p.grad->loc);
  p.output = p.ops.back()->result();
  // partition-rows writes the strategy as its name (passes::name(RowStrategy)); read back by
  // the one parser of strategy names.
  p.twoPs = false;
  if (const Op& first = *p.ops.front(); first.has("strategy")) {
    const auto* text = std::get_if<std::string>(&first.attrs.at("strategy"));
    const std::optional<RowStrategy> strategy = text ? parseRowStrategy(*text) : std::nullopt;
    if (!strategy)
      throw ir::Error(cat("lower-row-pipelines: ", first.describe(), ": attribute 'strategy' must be 2ps or overl"),
                      first.loc);
    p.twoPs = *strategy == RowStrategy::TwoPS;
  }
  p.fp = readTable(p, "fp_rows");
  p.bp = readTable(p, "bp_rows");
}

std::vector<size_t> mapOperands(const Op& op) {
  std::vector<size_t> maps;
  for (size_t i = 0; i < op.operands.size(); ++i)
    if (isRowIndexed(op, i)) maps.push_back(i);
  return maps;
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
