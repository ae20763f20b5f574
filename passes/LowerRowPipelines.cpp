// lower-row-pipelines (docs/row-plans.md step 3): rewrites every partitioned row pipeline of
// a training module (fuse-row-pipelines, partition-rows, then autodiff, which gives the
// pipeline one `pipeline_grad` op) into ordinary ops on band values, strip by strip, so
// that plan-memory, the verifier and the kernels treat a row plan like any other module.
//
// Forward, in place of the pipeline's ops: for each forward strip j in order, each op
// computes its `fp_rows[j]` into a band (`band=[a,b,H]`). An operand band that must hold
// rows an earlier strip computed (2PS boundary rows) is assembled with `rows_copy` from the
// pieces earlier strips saved and the current band; OverL strips recompute their halos
// instead, so their bands already hold what they read. Pipeline inputs are read whole.
// The output map is assembled from its strips with `rows_copy`. Besides its own boundary
// rows, forward saves the boundary rows the backward strips will read (2PS, `bp_rows`):
// these small bands are all a 2PS pipeline keeps for backward; OverL keeps nothing.
//
// Backward, in place of `pipeline_grad(dy, inputs...)`: for each backward strip, last
// first, the strip's forward is recomputed (`bp_rows[j]`; 2PS reads the kept boundary
// rows, OverL recomputes halos from the pipeline inputs), then each op's gradient ops run
// on that strip's rows of dy (`rows=[a,b]`), in reverse program order. The gradient of a
// value within a strip is the `rows_sum` of its readers' contributions; under 2PS the rows
// below the strip's own (they belong to the previous strip) are carried to it and added
// there, so every row's gradient is complete before its op propagates it. Parameter
// gradients are summed over strips with `add`; an input map's gradient is the `rows_sum`
// of its strips' contributions (overlapping rows add up under OverL).
//
// With `reuse_last` on a pipeline (partition-rows{reuse=...}), backward's first strip
// reuses the last forward strip's bands instead of recomputing them (when both strips cover
// the same rows): they stay alive from the forward to the pipeline's backward.
//
// Dead ops (a recomputed value no gradient op reads) are erased at the end.
#include <algorithm>
#include <map>
#include <set>

#include "passes/Pass.h"
#include "passes/RowAnalysis.h"

namespace lrc::passes {

namespace {

using ir::Attrs;
using ir::IntList;
using ir::Op;
using ir::OpKind;
using ir::TensorType;
using ir::Value;
using ir::ValueMap;
using ir::ValueSet;

template <class... Parts>
std::string cat(const Parts&... parts) {
  std::string s;
  ((s += parts), ...);
  return s;
}

using Table = std::vector<std::vector<RowRange>>;  // [op][strip]

struct Pipeline {
  int64_t id = 0;
  std::vector<Op*> ops;
  ValueMap<size_t> index;  // result -> position in ops
  Value* output = nullptr;
  bool twoPs = true;
  Table fp, bp;
  Op* grad = nullptr;  // pipeline_grad, or null (nothing in it needs a gradient)
};

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

// Which operands of a pipeline op are row-indexed maps (the others are weights, biases,
// BatchNorm vectors).
std::vector<size_t> mapOperands(const Op& op) {
  if (op.kind == OpKind::Add) return {0, 1};
  return {0};
}

int64_t heightOf(const Value* v) { return v->type.shape.at(2); }

TensorType bandType(const Value* whole, RowRange r) {
  TensorType t = whole->type;
  t.shape.at(2) = r.size();
  return t;
}

IntList bandAttr(RowRange r, const Value* whole) { return {r.begin, r.end, heightOf(whole)}; }
IntList rowsAttr(RowRange r) { return {r.begin, r.end}; }

Attrs kernelAttrs(const Op& op) {
  Attrs a = op.attrs;
  std::erase_if(a, [](const auto& attr) { return isRowPlanAttr(attr.first); });
  return a;
}

Attrs pick(const Op& op, std::initializer_list<const char*> keys) {
  Attrs a;
  for (const char* k : keys) a[k] = op.attrs.at(k);
  return a;
}

IntList shapeOf(const Value* v) { return {v->type.shape.begin(), v->type.shape.end()}; }

// Training-mode BatchNorm with per-strip statistics (--bn strip): its statistics are those of
// the rows it normalizes, so its input and dy bands hold exactly those rows.
bool isStripBatchNorm(const Op& op) {
  return op.kind == OpKind::BatchNorm && op.getInt("training") != 0 && op.has("strip_stats");
}

class Lowering {
 public:
  Lowering(ir::Module& m, Pipeline& p) : m_(m), p_(p) {}

  void run() {
    // Which pipeline values need a gradient: those computed from a param or from an input
    // whose gradient pipeline_grad returns.
    if (p_.grad) {
      const IntList& grads = p_.grad->getInts("grads");
      for (size_t r = 0; r < grads.size(); ++r) {
        Value* v = p_.grad->operands[static_cast<size_t>(grads[r])];
        needsGrad_.insert(v);
        gradResults_.emplace_back(v, p_.grad->results[r]);
      }
      for (const Op* op : p_.ops)
        for (const Value* v : op->operands)
          if (needsGrad_.count(v)) needsGrad_.insert(op->result());
    }
    lowerForward();
    if (p_.grad) lowerBackward();
    // The whole-map ops are replaced (a training BatchNorm would not die on its own: it
    // updates the running statistics).
    for (auto it = p_.ops.rbegin(); it != p_.ops.rend(); ++it) m_.eraseOp(*it);
  }

 private:
  ir::Module& m_;
  Pipeline& p_;
  size_t pos_ = 0;  // where the next op goes
  ValueSet needsGrad_;
  // Input or param -> pipeline_grad's result, in the order of its results (the order in which
  // their whole gradients are emitted).
  std::vector<std::pair<const Value*, Value*>> gradResults_;
  // Saved rows of pipeline values: forward boundary rows and what backward keeps.
  ValueMap<std::vector<Value*>> fpPieces_, keptPieces_;
  // reuse_last: the last forward strip's bands and operand bands, for backward's first strip.
  ValueMap<Value*> lastBands_;
  std::vector<std::vector<Value*>> lastOperands_;

  // Whether backward's first strip reuses the last forward strip (partition-rows{reuse=...}):
  // only when a pipeline gradient exists and both strips compute the same rows at every op.
  bool reuseLast() const {
    if (!p_.grad || !p_.ops.front()->has("reuse_last")) return false;
    for (size_t k = 0; k < p_.ops.size(); ++k)
      if (p_.fp[k].back() != p_.bp[k].back()) return false;
    return true;
  }

  bool inPipeline(const Value* v) const { return p_.index.count(v) != 0; }

  Op* emit(OpKind kind, std::vector<Value*> operands, Attrs attrs, const std::string& name, TensorType type) {
    return m_.insertOp(pos_++, kind, std::move(operands), std::move(attrs), {{m_.uniqueName(name), std::move(type)}});
  }

  static RowRange rowsOf(const Value* v) {
    if (auto b = ir::bandOf(*v)) return {b->begin, b->end};
    return {0, heightOf(v)};
  }

  std::string stripName(const Value* v, const char* tag, size_t j) const { return cat(v->name, ".", tag, std::to_string(j)); }

  // Rows [r] of `whole` copied out of `src` (a band holding them).
  Value* copyRows(Value* src, RowRange r, const Value* whole, const std::string& name) {
    return emit(OpKind::RowsCopy, {src}, {{"band", bandAttr(r, whole)}}, name, bandType(whole, r))->result();
  }

  // A band of `whole` holding rows `need`: `current` if it does, else assembled from the
  // saved pieces and `current`.
  Value* assemble(const Value* whole, RowRange need, Value* current, const std::vector<Value*>& pieces,
                  const std::string& name) {
    if (current && holds(rowsOf(current), need)) return current;
    // Pieces fill the rows above the current band (they come from earlier strips).
    RowRange fill = need;
    if (current && !intersect(rowsOf(current), need).empty()) fill.end = std::min(need.end, rowsOf(current).begin);
    std::vector<Value*> sources;
    RowRange covered{0, 0};
    for (Value* piece : pieces)
      if (!intersect(rowsOf(piece), fill).empty()) {
        sources.push_back(piece);
        covered = hull(covered, intersect(rowsOf(piece), need));
      }
    if (current && !intersect(rowsOf(current), need).empty()) {
      sources.push_back(current);
      covered = hull(covered, intersect(rowsOf(current), need));
    }
    if (covered != need)
      throw ir::Error(cat("lower-row-pipelines: pipeline ", std::to_string(p_.id), ": rows ", need.str(), " of %", whole->name,
                          " are not available (internal error: have ", covered.str(), ")"),
                      p_.ops.front()->loc);
    return emit(OpKind::RowsCopy, sources, {{"band", bandAttr(need, whole)}}, name, bandType(whole, need))->result();
  }

  // The rows of `v` that the readers in the pipeline need when they compute `rows[reader]`.
  RowRange readersNeed(const Value* v, const Table& t, size_t j) const {
    RowRange need{0, 0};
    for (size_t k = 0; k < p_.ops.size(); ++k) {
      const Op& op = *p_.ops[k];
      if (t[k][j].empty()) continue;
      for (size_t i : mapOperands(op))
        if (op.operands[i] == v) need = hull(need, inputRows(op, i, t[k][j]));
    }
    return need;
  }

  // Computes one strip of the pipeline's forward (`t` = fp or bp rows), reading boundary rows
  // from `pieces`. Returns the band of every value computed and records the operand bands
  // each op read in `operandBands` (for the gradient ops).
  ValueMap<Value*> computeStrip(const Table& t, size_t j, ValueMap<std::vector<Value*>>& pieces,
                                              const char* tag, std::vector<std::vector<Value*>>* operandBands) {
    ValueMap<Value*> band;
    ValueMap<std::vector<Value*>> assembled;  // operand bands made in this strip
    if (operandBands) operandBands->assign(p_.ops.size(), {});
    for (size_t k = 0; k < p_.ops.size(); ++k) {
      const Op& op = *p_.ops[k];
      const RowRange rows = t[k][j];
      if (rows.empty()) continue;
      std::vector<Value*> operands = op.operands;
      for (size_t i : mapOperands(op)) {
        Value* u = op.operands[i];
        if (!inPipeline(u)) continue;
        const RowRange need = inputRows(op, i, rows);
        auto reuse = std::find_if(assembled[u].begin(), assembled[u].end(), [&](Value* b) { return holds(rowsOf(b), need); });
        if (reuse != assembled[u].end()) {
          operands[i] = *reuse;
          continue;
        }
        auto cur = band.find(u);
        operands[i] = assemble(u, need, cur == band.end() ? nullptr : cur->second, pieces[u],
                               stripName(u, (std::string(tag) + "in").c_str(), j));
        assembled[u].push_back(operands[i]);
      }
      if (isStripBatchNorm(op) && rowsOf(operands[0]) != rows)
        operands[0] = copyRows(operands[0], rows, op.operands[0], stripName(op.operands[0], (std::string(tag) + "bn").c_str(), j));
      if (operandBands) (*operandBands)[k] = operands;
      Attrs attrs = kernelAttrs(op);
      attrs["band"] = bandAttr(rows, op.result());
      // A recomputed strip must not update the running statistics a second time.
      if (isStripBatchNorm(op) && std::string(tag) == "r") attrs["update_stats"] = int64_t{0};
      band[op.result()] = emit(op.kind, operands, std::move(attrs), stripName(op.result(), tag, j), bandType(op.result(), rows))->result();
    }
    return band;
  }

  // Saves, from this strip's bands, `rows` of `v` into `pieces` (what later strips or the
  // backward read), one piece per band that holds some of them; reuses an identical piece.
  void save(ValueMap<std::vector<Value*>>& pieces, const Value* v, Value* band, RowRange rows, const char* tag) {
    const RowRange r = intersect(rowsOf(band), rows);
    if (r.empty()) return;
    auto same = [&](const Value* piece) { return rowsOf(piece) == r && piece->def->operands.front() == band; };
    if (std::any_of(pieces[v].begin(), pieces[v].end(), same)) return;
    auto forward = std::find_if(fpPieces_[v].begin(), fpPieces_[v].end(), same);
    if (forward != fpPieces_[v].end()) return pieces[v].push_back(*forward);
    pieces[v].push_back(copyRows(band, r, v, cat(v->name, ".", tag, std::to_string(r.begin), "_", std::to_string(r.end))));
  }

  void lowerForward() {
    // After the last forward op of the pipeline: every input is defined by then.
    pos_ = 0;
    while (m_.ops[pos_].get() != p_.ops.back()) ++pos_;
    ++pos_;
    const size_t nFp = p_.fp.front().size(), nBp = p_.bp.front().size();
    std::vector<Value*> outputBands;
    for (size_t j = 0; j < nFp; ++j) {
      // The last forward strip is also backward's first (2PS, `reuse_last`): its bands and
      // operand bands stay alive instead of being recomputed.
      const bool keepForBackward = reuseLast() && j + 1 == nFp;
      ValueMap<Value*> band =
          computeStrip(p_.fp, j, fpPieces_, "s", keepForBackward ? &lastOperands_ : nullptr);
      if (keepForBackward) lastBands_ = band;
      for (auto& [v, b] : band) {
        if (v == p_.output) {
          outputBands.push_back(b);
          continue;
        }
        if (!p_.twoPs) continue;
        // Boundary rows the next forward strips read (2PS), then the rows backward strips
        // read from their previous strip.
        int64_t lo = rowsOf(b).end;
        for (size_t next = j + 1; next < nFp; ++next) {
          const RowRange need = readersNeed(v, p_.fp, next);
          if (!need.empty()) lo = std::min(lo, need.begin);
        }
        save(fpPieces_, v, b, {lo, rowsOf(b).end}, "b");
        if (!p_.grad) continue;
        for (size_t s = 1; s < nBp; ++s) {
          const RowRange own = p_.bp[p_.index.at(v)][s];
          const RowRange need = readersNeed(v, p_.bp, s);
          const int64_t ownBegin = own.empty() ? need.end : own.begin;
          if (!need.empty() && need.begin < ownBegin) save(keptPieces_, v, b, {need.begin, ownBegin}, "k");
        }
      }
    }
    Value* out = emit(OpKind::RowsCopy, outputBands, {},
                      p_.output->name + ".rows", p_.output->type)
                     ->result();
    m_.replaceAllUses(p_.output, out);
  }

  void lowerBackward() {
    pos_ = 0;
    while (m_.ops[pos_].get() != p_.grad) ++pos_;
    Value* dy = p_.grad->operands[0];
    const size_t nBp = p_.bp.front().size();
    ValueMap<std::vector<Value*>> inputGrads, paramGrads;  // contributions
    ValueMap<Value*> carried;  // 2PS: gradient rows for the previous strip
    ValueMap<std::vector<Value*>> none;
    for (size_t s = nBp; s-- > 0;) {
      std::vector<std::vector<Value*>> operandBands;
      ValueMap<Value*> band;
      if (reuseLast() && s + 1 == nBp) {
        band = lastBands_;
        operandBands = lastOperands_;
      } else {
        band = computeStrip(p_.bp, s, p_.twoPs ? keptPieces_ : none, "r", &operandBands);
      }
      ValueMap<std::vector<Value*>> contrib;
      for (size_t k = p_.ops.size(); k-- > 0;) {
        const Op& op = *p_.ops[k];
        Value* v = op.result();
        if (!needsGrad_.count(v)) continue;
        const RowRange rows = p_.bp[k][s];
        Value* dv = dy;
        if (v != p_.output) {
          std::vector<Value*> sources = contrib[v];
          if (auto c = carried.find(v); c != carried.end()) sources.push_back(c->second);
          carried.erase(v);
          if (sources.empty()) continue;
          RowRange r = rows;
          for (Value* src : sources) r = hull(r, rowsOf(src));
          dv = sources.size() == 1 && rowsOf(sources[0]) == r
                   ? sources[0]
                   : emit(OpKind::RowsSum, sources, {{"band", bandAttr(r, v)}}, cat("d", v->name, ".sum", std::to_string(s)), bandType(v, r))->result();
          if (rows.empty()) {
            carried[v] = dv;  // all of it belongs to earlier strips
            continue;
          }
          if (r.begin < rows.begin) carried[v] = copyRows(dv, {r.begin, rows.begin}, v, cat("d", v->name, ".carry", std::to_string(s)));
        }
        if (rows.empty()) continue;
        backprop(op, rows, dv, operandBands[k], band.count(v) ? band.at(v) : nullptr, s, contrib, paramGrads);
      }
      for (auto& [v, list] : contrib)
        if (!inPipeline(v)) inputGrads[v].insert(inputGrads[v].end(), list.begin(), list.end());
    }
    // Whole gradients of the pipeline's inputs and params, in place of pipeline_grad's results.
    for (auto& [v, result] : gradResults_) {
      Value* total = nullptr;
      if (auto it = inputGrads.find(v); it != inputGrads.end() && !it->second.empty()) {
        total = emit(OpKind::RowsSum, it->second, {}, "d" + v->name, v->type)->result();
      } else if (auto pg = paramGrads.find(v); pg != paramGrads.end() && !pg->second.empty()) {
        total = pg->second.front();
        for (size_t i = 1; i < pg->second.size(); ++i)
          total = emit(OpKind::Add, {total, pg->second[i]}, {}, "d" + v->name, v->type)->result();
      } else {
        throw ir::Error(cat("lower-row-pipelines: pipeline ", std::to_string(p_.id), ": no gradient reaches %", v->name),
                        p_.grad->loc);
      }
      m_.replaceAllUses(result, total);
    }
    m_.eraseOp(p_.grad);
  }

  void addContribution(ValueMap<std::vector<Value*>>& contrib, ValueMap<std::vector<Value*>>& paramGrads,
                       const Value* x, Value* g) {
    if (x->isGlobal()) paramGrads[x].push_back(g);
    else contrib[x].push_back(g);
  }

  // The gradient ops of pipeline op `op` for dy rows `rows` (dy held by `dv`), reading the
  // strip's operand bands `in` and result band `y`.
  void backprop(const Op& op, RowRange rows, Value* dv, const std::vector<Value*>& in, Value* y, size_t s,
                ValueMap<std::vector<Value*>>& contrib, ValueMap<std::vector<Value*>>& paramGrads) {
    auto need = [&](size_t i) { return needsGrad_.count(op.operands[i]) != 0; };
    auto dxBand = [&](size_t i, RowRange r) { return bandAttr(r, op.operands[i]); };
    auto gradName = [&](size_t i) { return cat("d", op.operands[i]->name, ".", std::to_string(s)); };
    auto emitDx = [&](OpKind kind, std::vector<Value*> operands, Attrs attrs, size_t i, RowRange r) {
      attrs["rows"] = rowsAttr(rows);
      attrs["band"] = dxBand(i, r);
      Value* g = emit(kind, std::move(operands), std::move(attrs), gradName(i), bandType(op.operands[i], r))->result();
      addContribution(contrib, paramGrads, op.operands[i], g);
    };
    switch (op.kind) {
      case OpKind::Conv2d: {
        Value* w = op.operands[1];
        if (need(0)) {
          Attrs a = pick(op, {"dilation", "group", "pad", "stride"});
          a["input_shape"] = shapeOf(op.operands[0]);
          emitDx(OpKind::Conv2dGradInput, {dv, w}, std::move(a), 0, inputRows(op, 0, rows));
        }
        if (need(1)) {
          Attrs a = pick(op, {"dilation", "group", "pad", "stride"});
          a["kernel"] = IntList{w->type.shape.at(2), w->type.shape.at(3)};
          a["rows"] = rowsAttr(rows);
          paramGrads[w].push_back(emit(OpKind::Conv2dGradWeight, {dv, in[0]}, std::move(a), cat("d", w->name, ".", std::to_string(s)), w->type)->result());
        }
        if (op.operands.size() == 3 && need(2)) {
          Value* b = op.operands[2];
          paramGrads[b].push_back(emit(OpKind::ChannelSum, {dv}, {{"rows", rowsAttr(rows)}}, cat("d", b->name, ".", std::to_string(s)), b->type)->result());
        }
        return;
      }
      case OpKind::Relu:
        if (need(0)) emitDx(OpKind::ReluGrad, {dv, y}, {}, 0, rows);
        return;
      case OpKind::MaxPool:
        if (need(0))
          emitDx(OpKind::MaxPoolGrad, {dv, in[0]}, pick(op, {"ceil_mode", "dilation", "kernel", "pad", "stride"}), 0,
                 inputRows(op, 0, rows));
        return;
      case OpKind::AveragePool:
        if (need(0)) {
          Attrs a = pick(op, {"ceil_mode", "count_include_pad", "kernel", "pad", "stride"});
          a["input_shape"] = shapeOf(op.operands[0]);
          emitDx(OpKind::AveragePoolGrad, {dv}, std::move(a), 0, inputRows(op, 0, rows));
        }
        return;
      case OpKind::Pad:
        if (need(0)) {
          // The crop of dy rows `rows`: a pad by the negated amounts, computing the input rows
          // they map to (no `rows` attribute: pad computes its whole result band).
          IntList pads = op.getInts("pads");
          for (int64_t& p : pads) p = -p;
          const RowRange r = inputRows(op, 0, rows);
          if (r.empty()) return;
          Value* g = emit(OpKind::Pad, {dv}, {{"pads", pads}, {"value", 0.0}, {"band", dxBand(0, r)}}, gradName(0),
                          bandType(op.operands[0], r))
                         ->result();
          addContribution(contrib, paramGrads, op.operands[0], g);
        }
        return;
      case OpKind::BatchNorm: {
        // Frozen BatchNorm, or per-strip statistics (then dy holds exactly the strip's rows).
        if (isStripBatchNorm(op) && rowsOf(dv) != rows) dv = copyRows(dv, rows, op.result(), cat("d", op.result()->name, ".bn", std::to_string(s)));
        Op* g = m_.insertOp(pos_++, OpKind::BatchNormGrad, {dv, in[0], op.operands[1], op.operands[3], op.operands[4]},
                            {{"epsilon", op.attrs.at("epsilon")}, {"training", op.attrs.at("training")}, {"rows", rowsAttr(rows)},
                             {"band", dxBand(0, rows)}},
                            {{m_.uniqueName(gradName(0)), bandType(op.operands[0], rows)},
                             {m_.uniqueName(cat("d", op.operands[1]->name, ".", std::to_string(s))), op.operands[1]->type},
                             {m_.uniqueName(cat("d", op.operands[2]->name, ".", std::to_string(s))), op.operands[2]->type}});
        for (size_t i = 0; i < 3; ++i)
          if (need(i)) addContribution(contrib, paramGrads, op.operands[i], g->results[i]);
        return;
      }
      case OpKind::Add:
      case OpKind::Identity:
      case OpKind::Dropout: {
        if (op.kind == OpKind::Dropout && op.getInt("training") != 0) {
          if (need(0)) emitDx(OpKind::DropoutGrad, {dv}, pick(op, {"ratio", "seed", "training"}), 0, rows);
          return;
        }
        // The gradient passes through: dy's rows `rows`, exactly.
        Value* g = rowsOf(dv) == rows ? dv : nullptr;
        for (size_t i : mapOperands(op)) {
          if (!need(i)) continue;
          if (!g) g = copyRows(dv, rows, op.result(), cat("d", op.result()->name, ".pass", std::to_string(s)));
          addContribution(contrib, paramGrads, op.operands[i], g);
        }
        return;
      }
      default:
        throw ir::Error(cat("lower-row-pipelines: no strip gradient for ", op.describe()), op.loc);
    }
  }
};

class LowerRowPipelines : public Pass {
 public:
  std::string_view name() const override { return "lower-row-pipelines"; }

  bool run(ir::Module& m) override {
    std::map<int64_t, Pipeline> byId;
    for (auto& op : m.ops) {
      if (op->kind == OpKind::PipelineGrad) {
        byId[op->getInt("pipeline")].grad = op.get();
        continue;
      }
      if (!op->has("pipeline") || !op->has("fp_rows")) continue;
      Pipeline& p = byId[op->getInt("pipeline")];
      p.id = op->getInt("pipeline");
      p.index[op->result()] = p.ops.size();
      p.ops.push_back(op.get());
    }
    if (byId.empty()) return false;
    for (auto& [id, p] : byId) {
      if (p.ops.empty())
        throw ir::Error(cat("lower-row-pipelines: ", p.grad->describe(), " names pipeline ", std::to_string(id),
                            ", which has no partitioned ops"),
                        p.grad->loc);
      p.output = p.ops.back()->result();
      p.twoPs = p.ops.front()->has("strategy") && std::get<std::string>(p.ops.front()->attrs.at("strategy")) == "2ps";
      p.fp = readTable(p, "fp_rows");
      p.bp = readTable(p, "bp_rows");
      Lowering(m, p).run();
    }
    m.eraseDeadOps();
    return true;
  }
};

}  // namespace

std::unique_ptr<Pass> createLowerRowPipelinesPass() { return std::make_unique<LowerRowPipelines>(); }

}  // namespace lrc::passes
