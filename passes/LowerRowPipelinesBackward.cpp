// lower-row-pipelines, the backward strips (rules: the header of LowerRowPipelines.cpp): last
// strip first, the strip's forward recomputed, then its gradient ops (passes/GradEmitter.h)
// in reverse program order, rows carried to the previous strip, sums over strips.
#include <algorithm>

#include "passes/GradEmitter.h"
#include "passes/LowerRowPipelines.h"

namespace lrc::passes {

using ir::Attrs;
using ir::Op;
using ir::OpKind;
using ir::TensorType;
using ir::Value;
using ir::ValueMap;

// The gradient ops of one strip of a pipeline op go where the backward is being written;
// a contribution to a map inside the pipeline is summed at its op (`contrib`), one to a
// parameter or weight over the strips as it comes (`paramGrads`: the running sum).
// With `reduced` (the points' gate ops, between the backward passes, on whole values): a gate
// value's dy is its sum over the first pass's strips (`paramGrads`, like a weight's), and
// contributions to gate values and parameters are summed there. (An SE mean's gradient is
// no whole map: the second pass adds it on each strip's rows.)
class PipelineLowering::StripGrads final : public GradBuilder {
 public:
  StripGrads(PipelineLowering& l, ValueMap<std::vector<Value*>>& contrib, ValueMap<std::vector<Value*>>& paramGrads,
             ValueMap<std::vector<Value*>>* reduced = nullptr)
      : l_(l), contrib_(contrib), paramGrads_(paramGrads), reduced_(reduced) {}
  bool needsGrad(const Value* v) const override { return l_.needsGrad_.count(v) != 0; }
  Op* emit(OpKind kind, std::vector<Value*> operands, Attrs attrs,
           std::vector<std::pair<std::string, TensorType>> results) override {
    for (auto& r : results) r.first = l_.m_.uniqueName(r.first);
    return l_.m_.insertOp(l_.pos_++, kind, std::move(operands), std::move(attrs), std::move(results));
  }
  // Only a recomputed reduction point's statistics (batchnorm_stats, on a strip of the second
  // backward pass) ask: their results' gradients are complete sums by then, and the map's
  // gradient is the one band put in `contrib` for it (the first pass's rows of the strip).
  Value* resultGrad(const Value* result) const override {
    auto sum = paramGrads_.find(result);
    return sum == paramGrads_.end() || sum->second.empty() ? nullptr : sum->second.front();
  }
  Value* takeGrad(const Value* x) override {
    auto it = contrib_.find(x);
    if (it == contrib_.end() || it->second.size() != 1) return nullptr;
    Value* g = it->second.front();
    it->second.clear();
    return g;
  }
  void contribute(const Op& op, size_t operand, Value* grad) override {
    const Value* x = op.operands[operand];
    if (reduced_ && l_.reducedBy_.count(x)) return (*reduced_)[x].push_back(grad);
    const std::vector<size_t> maps = mapOperands(op);
    // batchnorm_stats reads a whole map in plans (no band slot), a pipeline map here.
    const bool map = std::find(maps.begin(), maps.end(), operand) != maps.end() ||
                     (op.kind == OpKind::BatchNormStats && operand == 0);
    if (map && !x->isGlobal() && !reduced_) return contrib_[x].push_back(grad);
    // Parameter (and statistics) gradients are summed as the strips produce them, so one
    // partial sum and one strip's contribution are alive at a time, not one per strip.
    std::vector<Value*>& sum = paramGrads_[x];
    if (sum.empty()) return sum.push_back(grad);
    sum.front() = l_.emit(OpKind::Add, {sum.front(), grad}, {}, "d" + x->name, x->type)->result();
  }

 private:
  PipelineLowering& l_;
  ValueMap<std::vector<Value*>>& contrib_;
  ValueMap<std::vector<Value*>>& paramGrads_;
  ValueMap<std::vector<Value*>>* reduced_;
};

// What the backward passes of one pipeline gather: contributions to its inputs' gradients, the
// running sums of its parameters' (and statistics') gradients, and (recomputed reduction
// points) each point's map gradient from the first pass, summed whole, and each SE mean's
// complete gradient dmean ([N,C,1,1]).
struct PipelineLowering::BackwardSums {
  Value* dy = nullptr;
  ValueMap<std::vector<Value*>> inputGrads, paramGrads;
  ValueMap<std::vector<Value*>> reduced;  // first pass: contributions to a point's map
  ValueMap<Value*> reducedWhole;          // their sum, read by the second pass (SE means)
  // A BatchNorm point's first-pass contributions, kept apart: the second pass sums, per strip,
  // those that share its rows (rows_sum crops to the strip), so the map's gradient is never
  // held whole beside its strips (docs/row-plans.md; VGG-11-BN's first map: 98 MiB at batch 8).
  ValueMap<std::vector<Value*>> reducedParts;
  ValueMap<Value*> meanGrads;             // an SE point's map -> dmean / (H*W), [N,C,1,1]
};

// Rows of op k's result that backward strip s owns: its rows less those of earlier strips
// (under OverL strips overlap; under 2PS they are these rows already).
RowRange PipelineLowering::ownRows(size_t k, size_t s) const {
  int64_t before = 0;
  for (size_t j = 0; j < s; ++j) before = std::max(before, p_.bp[k][j].end);
  const RowRange rows = p_.bp[k][s];
  const int64_t begin = std::max(rows.begin, before);
  return {begin, std::max(rows.end, begin)};
}

// The band of `v` that strip's gradient ops read for its result (an element-wise op's
// gradient reads its y: relu_grad, sigmoid_grad, ...): a band its readers in the strip
// assembled (rows_copy of kept boundary rows and the strip's own band) when one holds every
// row of the strip's own band, else the own band. Both are alive until the readers' gradients
// run; reading the assembled one lets the own band go right after the copy, so a 2PS strip
// does not hold each element-wise result twice through its backward (AlexNet at batch 8,
// 2PS-6: 2.3 MiB of its 12.5 MiB activation part, docs/benchmarks.md).
Value* PipelineLowering::resultBand(const Value* v, const ValueMap<Value*>& band,
                                    const std::vector<std::vector<Value*>>& operandBands) const {
  auto own = band.find(v);
  if (own == band.end()) return nullptr;
  Value* best = own->second;
  for (size_t k = 0; k < p_.ops.size() && k < operandBands.size(); ++k)
    for (size_t i = 0; i < operandBands[k].size() && i < p_.ops[k]->operands.size(); ++i) {
      Value* b = operandBands[k][i];
      if (p_.ops[k]->operands[i] != v || b == own->second || !b || !b->def || b->def->kind != OpKind::RowsCopy) continue;
      if (!holds(rowsOf(b), rowsOf(own->second))) continue;
      if (best == own->second || b->type.bytes() < best->type.bytes()) best = b;
    }
  return best;
}

namespace {

// Whether the rows of `parts` (bands of one map) together cover rows [0, height).
bool coversRows(const std::vector<Value*>& parts, int64_t height) {
  std::vector<RowRange> ranges;
  for (const Value* p : parts) ranges.push_back(rowsOf(p));
  std::sort(ranges.begin(), ranges.end(), [](RowRange a, RowRange b) { return a.begin < b.begin; });
  int64_t covered = 0;
  for (const RowRange& r : ranges) {
    if (r.begin > covered) return false;
    covered = std::max(covered, r.end);
  }
  return covered >= height;
}

}  // namespace

// Rows `rows` of the sum of `parts` (bands of `whole`): the one part that is exactly those
// rows, else rows_sum of the parts that share them, in their order (the sum a whole rows_sum
// of every part has on those rows).
Value* PipelineLowering::partsOnRows(const std::vector<Value*>& parts, RowRange rows, const Value* whole,
                                     const std::string& name) {
  std::vector<Value*> shared;
  for (Value* p : parts) {
    const RowRange r = rowsOf(p);
    if (r.begin < rows.end && rows.begin < r.end) shared.push_back(p);
  }
  if (shared.size() == 1 && rowsOf(shared.front()) == rows) return shared.front();
  return emit(OpKind::RowsSum, shared, {{"band", bandAttr(rows, whole)}}, name, bandType(whole, rows))->result();
}

void PipelineLowering::lowerBackward() {
  pos_ = 0;
  while (m_.ops[pos_].get() != p_.grad) ++pos_;
  BackwardSums sums;
  sums.dy = p_.grad->operands[0];
  for (auto& [stats, grad] : seeds_) sums.paramGrads[stats].push_back(grad);
  // Recomputed reduction points (SPEC.md section 5): pass 0 runs the gradients of the ops
  // downstream of every point's map, completing the statistics' gradients of the points next
  // upstream (dmean, dinvstd summed over strips like parameters) and their maps' gradients so
  // far; each further pass recomputes the strips of the ops upstream of the points it
  // finishes, adds the statistics' term on each strip of their maps, and runs the gradients of
  // the ops between those maps and the points further upstream. One point, or points side by
  // side: two passes; a chain of k BatchNorms: k + 1.
  // An input map's whole gradient is summed right after the last pass whose ops read it, so
  // that its strips' bands do not wait for the later passes (a U-Net decoder's skip maps, read
  // at different depths of one pipeline).
  ir::ValueMap<size_t> lastPass;
  for (size_t k = 0; k < p_.ops.size(); ++k)
    for (const Value* v : p_.ops[k]->operands)
      if (!inPipeline(v)) lastPass[v] = std::max(lastPass[v], depth_[k]);
  // An input map's whole gradient: the rows_sum of its strips' contributions (null: none yet).
  auto inputGrad = [&](const Value* v) -> Value* {
    auto it = sums.inputGrads.find(v);
    if (it == sums.inputGrads.end() || it->second.empty()) return nullptr;
    return emit(OpKind::RowsSum, it->second, {}, "d" + v->name, v->type)->result();
  };
  ir::ValueSet summed;
  for (size_t d = 0; d < passes_; ++d) {
    if (d > 0) finishPoints(d, sums);
    backwardPass(d, sums);
    if (d + 1 == passes_) break;
    for (auto& [v, result] : gradResults_) {
      auto last = lastPass.find(v);
      if (last == lastPass.end() || last->second != d) continue;
      if (Value* total = inputGrad(v)) {
        m_.replaceAllUses(result, total);
        summed.insert(v);
      }
    }
  }
  // Whole gradients of the pipeline's inputs and params, in place of pipeline_grad's results.
  for (auto& [v, result] : gradResults_) {
    if (summed.count(v)) continue;
    Value* total = inputGrad(v);
    if (auto pg = sums.paramGrads.find(v); !total && pg != sums.paramGrads.end() && !pg->second.empty())
      total = pg->second.front();  // summed over the strips already
    if (!total)
      throw ir::Error(cat("lower-row-pipelines: pipeline ", std::to_string(p_.id), ": no gradient reaches %", v->name),
                      p_.grad->loc);
    m_.replaceAllUses(result, total);
  }
  m_.eraseOp(p_.grad);
}

// Before backward pass d: the gates (pass 1 only, last first: their readers are downstream of
// every point); then the points whose map has depth d, their gradients from the earlier passes
// complete: each SE mean's dmean becomes dx = dmean / (H*W) (reduce_mean {input_shape} of
// dmean, once), which pass d adds broadcast over each strip's rows, never a whole map; each
// map's earlier contributions are kept apart (2PS) or summed whole (OverL).
void PipelineLowering::finishPoints(size_t d, BackwardSums& sums) {
  if (d == 1) {
    ValueMap<std::vector<Value*>> none;
    StripGrads gateGrads(*this, none, sums.paramGrads, &sums.reduced);
    for (auto it = p_.gates.rbegin(); it != p_.gates.rend(); ++it)
      if (Value* dy = gateGrads.resultGrad((*it)->result())) emitGrad(gateGrads, **it, dy);
    for (const Op* point : p_.reductions)
      if (point->kind != OpKind::BatchNormStats)
        if (Value* dmean = gateGrads.resultGrad(point->result())) {
          const Value* x = point->operands[0];
          Attrs a = {{"axes", ir::IntList{2, 3}}, {"keepdims", int64_t{1}}, {"input_shape", x->type.shape}};
          sums.meanGrads[x] = emit(OpKind::ReduceMean, {dmean}, std::move(a), cat("d", x->name, ".mean"), dmean->type)->result();
        }
  }
  for (const Value* x : reducedMaps_) {
    if (depth_[p_.index.at(x)] != d) continue;
    const Op* stats = reducedBy_.at(x);
    if (d > 1 && (stats->kind != OpKind::BatchNormStats || !p_.gates.empty()))
      throw ir::Error(cat("lower-row-pipelines: pipeline ", std::to_string(p_.id), ": %", x->name,
                          " is a recomputed point upstream of another, which only BatchNorms without gates may be "
                          "(internal error)"),
                      stats->loc);
    auto it = sums.reduced.find(x);
    if (it == sums.reduced.end() || it->second.empty()) continue;
    // Kept apart only where the bands are no more bytes than the map (2PS's disjoint strips):
    // overlapping OverL bands, held into the second pass, could outweigh the whole sum.
    int64_t partBytes = 0;
    for (const Value* part : it->second) partBytes += part->type.bytes();
    if (stats->kind == OpKind::BatchNormStats && coversRows(it->second, heightOf(x)) && partBytes <= x->type.bytes())
      sums.reducedParts[x] = it->second;
    else
      sums.reducedWhole[x] = emit(OpKind::RowsSum, it->second, {}, cat("d", x->name, ".acc"), x->type)->result();
    int64_t covered = 0;
    for (size_t s = 0; s < p_.bp.front().size(); ++s) covered += ownRows(p_.index.at(x), s).size();
    if (covered != heightOf(x))
      throw ir::Error(cat("lower-row-pipelines: pipeline ", std::to_string(p_.id), ": backward strips cover ",
                          std::to_string(covered), " of the ", std::to_string(heightOf(x)), " rows of %", x->name,
                          ", which a recomputed reduction point reads (internal error)"),
                      stats->loc);
  }
}

void PipelineLowering::backwardPass(size_t d, BackwardSums& sums) {
  const size_t nBp = p_.bp.front().size();
  ValueMap<Value*> carried;  // 2PS: gradient rows for the previous strip
  ValueMap<std::vector<Value*>> none;
  // Pass d recomputes the ops of depth d and above (those upstream of what it differentiates).
  std::vector<bool> recomputed(p_.ops.size());
  for (size_t k = 0; k < p_.ops.size(); ++k) recomputed[k] = depth_[k] >= d;
  for (size_t s = nBp; s-- > 0;) {
    std::vector<std::vector<Value*>> operandBands;
    ValueMap<Value*> band;
    if (d == 0 && reuseLast() && s + 1 == nBp) {
      band = lastBands_;
      operandBands = lastOperands_;
    } else {
      band = computeStrip(p_.bp, s, p_.twoPs ? keptPieces_ : none, "r", &operandBands, d > 0 ? &recomputed : nullptr);
    }
    ValueMap<std::vector<Value*>> contrib;
    for (size_t k = p_.ops.size(); k-- > 0;) {
      const Op& op = *p_.ops[k];
      Value* v = op.result();
      if (depth_[k] != d || !needsGrad_.count(v)) continue;
      RowRange rows = p_.bp[k][s];
      if (auto point = reducedBy_.find(v); point != reducedBy_.end()) {
        // The map of a recomputed point (depth d > 0): its strip's own rows of the earlier passes' gradient,
        // plus the statistics' term (batchnorm_stats_grad on the strip) or the SE mean's
        // (dmean / (H*W) broadcast over the rows: `add` of the sum's rows and it, one band), are
        // this op's dy.
        rows = ownRows(k, s);
        auto whole = sums.reducedWhole.find(v);
        auto parts = sums.reducedParts.find(v);
        auto dmean = sums.meanGrads.find(v);
        const bool mean = point->second->kind != OpKind::BatchNormStats;
        const bool meanTerm = mean && dmean != sums.meanGrads.end();
        if (rows.empty() || (whole == sums.reducedWhole.end() && parts == sums.reducedParts.end() && !meanTerm))
          continue;
        const std::string name = cat("d", v->name, ".acc", std::to_string(s));
        if (parts != sums.reducedParts.end()) {
          contrib[v].push_back(partsOnRows(parts->second, rows, v, name));
        } else if (whole == sums.reducedWhole.end()) {  // (no first-pass gradient: the mean's term alone)
          Attrs a = {{"axes", ir::IntList{2, 3}}, {"input_shape", v->type.shape}, {"band", bandAttr(rows, v)},
                     {"sum", int64_t{1}}};
          contrib[v].push_back(emit(OpKind::ReduceMeanGrad, {dmean->second}, std::move(a), name, bandType(v, rows))->result());
        } else if (meanTerm) {
          Attrs a = {{"band", bandAttr(rows, v)}};
          contrib[v].push_back(emit(OpKind::Add, {whole->second, dmean->second}, std::move(a), name, bandType(v, rows))->result());
        } else {
          contrib[v].push_back(copyRows(whole->second, rows, v, name));
        }
        if (!mean) {
          std::vector<Value*> statsOperands = {band.at(v)};
          const GradStrip strip{rows, statsOperands, nullptr, s};
          StripGrads grads(*this, contrib, sums.paramGrads);
          emitGrad(grads, *point->second, nullptr, &strip);
        }
      }
      // The loss ending a pipeline seeds its backward: no dy (its gradient on the strip's rows is
      // softmax - onehot over the global count, straight into its logits' rows).
      Value* dv = endsWithLoss() ? nullptr : sums.dy;
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
      const GradStrip strip{rows, operandBands[k], resultBand(v, band, operandBands), s};
      StripGrads grads(*this, contrib, sums.paramGrads);
      emitGrad(grads, op, dv, &strip);
    }
    for (auto& [v, list] : contrib) {
      if (!inPipeline(v)) {
        sums.inputGrads[v].insert(sums.inputGrads[v].end(), list.begin(), list.end());
      } else if (depth_[p_.index.at(v)] > d && reducedBy_.count(v)) {
        sums.reduced[v].insert(sums.reduced[v].end(), list.begin(), list.end());
      } else if (depth_[p_.index.at(v)] > d && !list.empty()) {
        throw ir::Error(cat("lower-row-pipelines: pipeline ", std::to_string(p_.id), ": %", v->name,
                            " is upstream of a recomputed reduction point and read downstream of it (internal error)"),
                        p_.ops.front()->loc);
      }
    }
  }
}

}  // namespace lrc::passes
