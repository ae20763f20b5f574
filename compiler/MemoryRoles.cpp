#include "compiler/MemoryRoles.h"

#include <set>

namespace lrc::compiler {

ir::ValueMap<ResultRole> classifyResults(const ir::Module& m, size_t backwardFrom) {
  using ir::OpKind;
  // Results that depend on the loss gradient (softmax_xent_grad's or pixel_xent_grad's, and
  // whatever reads them).
  ir::ValueSet gradient;
  for (size_t i = backwardFrom; i < m.ops.size(); ++i) {
    const ir::Op& op = *m.ops[i];
    bool depends = ops::isLossGradient(op.kind);
    for (const ir::Value* v : op.operands) depends |= gradient.count(v) != 0;
    if (depends) gradient.insert(op.results.begin(), op.results.end());
  }
  // Parameter gradients: what an optimizer update reads, and the adds that sum parts into it.
  ir::ValueSet paramGrad;
  for (size_t i = m.ops.size(); i-- > backwardFrom;) {
    const ir::Op& op = *m.ops[i];
    if (ops::isOptimizerUpdate(op.kind)) paramGrad.insert(op.operands[1]);
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

ir::ValueSet optimizerState(const ir::Module& m) {
  ir::ValueSet result;
  for (const auto& op : m.ops) {
    if (ops::isOptimizerUpdate(op->kind)) result.insert(op->operands.begin() + 2, op->operands.end());
    if (ops::isFusedOptimizerStep(op->kind)) result.insert(op->operands.back());  // (param,) state
  }
  return result;
}

plan::Role globalRole(const ir::Value& v, const ir::ValueSet& optimizerState) {
  switch (v.kind) {
    case ir::ValueKind::Input: return plan::INPUT;
    case ir::ValueKind::Param: return plan::PARAMETER;
    case ir::ValueKind::State: return optimizerState.count(&v) ? plan::OPTIMIZER_STATE : plan::STATE;
    case ir::ValueKind::Const: return plan::CONSTANT;
    case ir::ValueKind::Result: break;
  }
  return plan::ACTIVATION;
}

plan::Role roleOf(ResultRole r) {
  switch (r) {
    case ResultRole::KeptActivation: return plan::ACTIVATION;
    case ResultRole::Transient: return plan::WORKSPACE;
    case ResultRole::ActivationGradient: return plan::ACTIVATION_GRADIENT;
    case ResultRole::ParameterGradient: return plan::GRADIENT;
  }
  return plan::WORKSPACE;
}

std::vector<plan::Role> liveBufferRoles(const ir::Module& m, const std::vector<ir::LiveBuffer>& buffers,
                                        size_t backwardFrom) {
  const ir::ValueMap<ResultRole> results = classifyResults(m, backwardFrom);
  const ir::ValueSet state = optimizerState(m);
  std::vector<plan::Role> roles;
  roles.reserve(buffers.size());
  for (const ir::LiveBuffer& b : buffers) {
    if (!b.value)
      roles.push_back(plan::WORKSPACE);
    else if (b.value->kind != ir::ValueKind::Result)
      roles.push_back(globalRole(*b.value, state));
    else
      roles.push_back(roleOf(results.at(b.value)));
  }
  return roles;
}

}  // namespace lrc::compiler
