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
// on that strip's rows of dy (`rows=[a,b]`), in reverse program order (the ops are those of
// autodiff, from passes/GradEmitter.h). The gradient of a
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

#include "passes/GradEmitter.h"
#include "passes/Pass.h"
#include "passes/RowAnalysis.h"
#include "passes/RowPipelines.h"

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

Attrs kernelAttrs(const Op& op) {
  Attrs a = op.attrs;
  std::erase_if(a, [](const auto& attr) { return isRowPlanAttr(attr.first); });
  return a;
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
        const GradStrip strip{rows, operandBands[k], band.count(v) ? band.at(v) : nullptr, s};
        StripGrads grads(*this, contrib, paramGrads);
        emitGrad(grads, op, dv, &strip);
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

  // The gradient ops of one strip of a pipeline op go where the backward is being written;
  // a contribution to a map inside the pipeline is summed at its op (`contrib`), one to a
  // parameter or weight over the strips (`paramGrads`).
  class StripGrads final : public GradBuilder {
   public:
    StripGrads(Lowering& l, ValueMap<std::vector<Value*>>& contrib, ValueMap<std::vector<Value*>>& paramGrads)
        : l_(l), contrib_(contrib), paramGrads_(paramGrads) {}
    bool needsGrad(const Value* v) const override { return l_.needsGrad_.count(v) != 0; }
    Op* emit(OpKind kind, std::vector<Value*> operands, Attrs attrs,
             std::vector<std::pair<std::string, TensorType>> results) override {
      for (auto& r : results) r.first = l_.m_.uniqueName(r.first);
      return l_.m_.insertOp(l_.pos_++, kind, std::move(operands), std::move(attrs), std::move(results));
    }
    void contribute(const Op& op, size_t operand, Value* grad) override {
      const Value* x = op.operands[operand];
      const std::vector<size_t> maps = mapOperands(op);
      const bool map = std::find(maps.begin(), maps.end(), operand) != maps.end();
      (map && !x->isGlobal() ? contrib_ : paramGrads_)[x].push_back(grad);
    }

   private:
    Lowering& l_;
    ValueMap<std::vector<Value*>>& contrib_;
    ValueMap<std::vector<Value*>>& paramGrads_;
  };
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
