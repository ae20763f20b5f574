#include "compiler/MemoryRoles.h"

#include <set>

namespace lrc::compiler {

ir::ValueMap<ResultRole> classifyResults(const ir::Module& m, size_t backwardFrom) {
  using ir::OpKind;
  // Results that depend on the loss gradient (softmax_xent_grad's, and whatever reads them).
  ir::ValueSet gradient;
  for (size_t i = backwardFrom; i < m.ops.size(); ++i) {
    const ir::Op& op = *m.ops[i];
    bool depends = op.kind == OpKind::SoftmaxXentGrad;
    for (const ir::Value* v : op.operands) depends |= gradient.count(v) != 0;
    if (depends) gradient.insert(op.results.begin(), op.results.end());
  }
  // Parameter gradients: what sgd_update reads, and the adds that sum parts into it.
  ir::ValueSet paramGrad;
  for (size_t i = m.ops.size(); i-- > backwardFrom;) {
    const ir::Op& op = *m.ops[i];
    if (op.kind == OpKind::SgdUpdate) paramGrad.insert(op.operands[1]);
    if (op.kind == OpKind::Add && paramGrad.count(op.result()))
      for (const ir::Value* v : op.operands) paramGrad.insert(v);
  }
  ir::ValueSet readInBackward;
  for (size_t i = backwardFrom; i < m.ops.size(); ++i)
    for (const ir::Value* v : m.ops[i]->operands) readInBackward.insert(v);
  for (const ir::Value* v : m.outputs) readInBackward.insert(v);

  ir::ValueMap<ResultRole> roles;
  for (size_t i = 0; i < m.ops.size(); ++i)
    for (const ir::Value* r : m.ops[i]->results) {
      if (i < backwardFrom)
        roles[r] = readInBackward.count(r) ? ResultRole::KeptActivation : ResultRole::Transient;
      else if (paramGrad.count(r))
        roles[r] = ResultRole::ParameterGradient;
      else if (gradient.count(r))
        roles[r] = ResultRole::ActivationGradient;
      else
        roles[r] = ResultRole::Transient;
    }
  return roles;
}

}  // namespace lrc::compiler
