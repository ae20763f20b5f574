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
class PipelineLowering::StripGrads final : public GradBuilder {
 public:
  StripGrads(PipelineLowering& l, ValueMap<std::vector<Value*>>& contrib, ValueMap<std::vector<Value*>>& paramGrads)
      : l_(l), contrib_(contrib), paramGrads_(paramGrads) {}
  bool needsGrad(const Value* v) const override { return l_.needsGrad_.count(v) != 0; }
  Op* emit(OpKind kind, std::vector<Value*> operands, Attrs attrs,
           std::vector<std::pair<std::string, TensorType>> results) override {
    for (auto& r : results) r.first = l_.m_.uniqueName(r.first);
    return l_.m_.insertOp(l_.pos_++, kind, std::move(operands), std::move(attrs), std::move(results));
  }
  // Whole-map gradients (batchnorm_stats) never run on strips: emitGrad refuses them first.
  Value* resultGrad(const Value*) const override { return nullptr; }
  Value* takeGrad(const Value*) override { return nullptr; }
  void contribute(const Op& op, size_t operand, Value* grad) override {
    const Value* x = op.operands[operand];
    const std::vector<size_t> maps = mapOperands(op);
    const bool map = std::find(maps.begin(), maps.end(), operand) != maps.end();
    if (map && !x->isGlobal()) return contrib_[x].push_back(grad);
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
};

void PipelineLowering::lowerBackward() {
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
      total = pg->second.front();  // summed over the strips already
    } else {
      throw ir::Error(cat("lower-row-pipelines: pipeline ", std::to_string(p_.id), ": no gradient reaches %", v->name),
                      p_.grad->loc);
    }
    m_.replaceAllUses(result, total);
  }
  m_.eraseOp(p_.grad);
}

}  // namespace lrc::passes
