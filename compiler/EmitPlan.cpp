#include "compiler/EmitPlan.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <unordered_set>

#include "compiler/MemoryRoles.h"
#include "compiler/OnnxImport.h"
#include "ir/Liveness.h"
#include "passes/RowAnalysis.h"

namespace lrc::compiler {

namespace {

using ir::Module;
using ir::Op;
using ir::OpKind;
using ir::Value;
using ir::ValueMap;
using ir::ValueSet;
using ir::ValueKind;

// Row-plan annotations (fuse-row-pipelines, partition-rows) are compiler bookkeeping, not
// kernel attributes, and are not emitted; nor is `band`, which becomes the result buffer's
// row0/height. A backward op's `rows` is a kernel attribute and is emitted.
bool isPlanlessAttr(const std::string& name) { return passes::isRowPlanAttr(name) || name == "band"; }

// A band value (docs/row-plans.md) as its buffer's row0 and height.
void setBand(plan::Buffer& b, const Value& v) {
  const std::optional<ir::Band> band = ir::bandOf(v);
  if (!band) return;
  if (b.shape_size() != 4 || band->end - band->begin != b.shape(2))
    throw ir::Error("plan: " + v.def->describe() + ": attribute 'band' does not describe its result's rows",
                    v.def->loc);
  b.set_row0(band->begin);
  b.set_height(band->height);
}

void addAttrs(plan::Step& step, const ir::Attrs& attrs) {
  for (const auto& [name, value] : attrs) {
    if (isPlanlessAttr(name)) continue;
    plan::Attr* a = step.add_attrs();
    a->set_name(name);
    if (auto* i = std::get_if<int64_t>(&value)) {
      a->add_ints(*i);
    } else if (auto* f = std::get_if<double>(&value)) {
      a->set_is_float(true);
      a->add_floats(*f);
    } else if (auto* is = std::get_if<ir::IntList>(&value)) {
      for (int64_t x : *is) a->add_ints(x);
    } else if (auto* fs = std::get_if<ir::FloatList>(&value)) {
      a->set_is_float(true);
      for (double x : *fs) a->add_floats(x);
    } else {
      throw ir::Error("plan: string attribute '" + name + "' has no kernel meaning");
    }
  }
}

// Buffers of a plan's programs. Inputs and globals are shared by name; results and scratch of
// a training plan's evaluation program get their own entries, prefixed "eval/".
class BufferTable {
 public:
  explicit BufferTable(plan::Plan& plan) : plan_(plan) {}

  uint32_t add(const std::string& name, const ir::TensorType& type, int64_t offset, plan::Role role) {
    if (offset < 0) throw ir::Error("plan: '" + name + "' has no place in the arena (run plan-memory first)");
    plan::Buffer* b = plan_.add_buffers();
    b->set_name(name);
    b->set_dtype(type.dtype == ir::DType::F32 ? plan::F32 : plan::I64);
    for (int64_t d : type.shape) b->add_shape(d);
    b->set_offset(static_cast<uint64_t>(offset));
    b->set_bytes(static_cast<uint64_t>(type.bytes()));
    b->set_role(role);
    return static_cast<uint32_t>(plan_.buffers_size() - 1);
  }
  void bind(const Value* v, uint32_t index) { index_[v] = index; }
  plan::Buffer& buffer(uint32_t index) { return *plan_.mutable_buffers(static_cast<int>(index)); }
  uint32_t of(const Value* v) const { return index_.at(v); }
  uint32_t byName(const std::string& name) const { return names_.at(name); }
  void nameShared(const std::string& name, uint32_t index) { names_[name] = index; }

 private:
  plan::Plan& plan_;
  ValueMap<uint32_t> index_;
  std::map<std::string, uint32_t> names_;
};

void appendBytes(std::string& out, const void* data, size_t bytes) {
  out.append(static_cast<const char*>(data), bytes);
}

// The version, names and arena size every plan starts with.
plan::Plan planHeader(const Module& m, int64_t arenaBytes) {
  plan::Plan plan;
  plan.set_version(plan::kPlanVersion);
  plan.set_model_name(m.name);
  plan.set_strategy("layerwise");
  plan.set_arena_bytes(static_cast<uint64_t>(arenaBytes));
  return plan;
}

// The buffers that persist between steps (inputs and globals), shared by name, and the
// initial data of every global: its bytes appended to `weights` (the plan file's weights
// section), or none when they are all zero (optimizer state, zero biases): the runtime zero-fills.
void emitPersistentBuffers(const Module& m, const ValueSet& optimizerState, BufferTable& table,
                           plan::Plan& plan, std::string& weights) {
  // One allocation of the bytes that are not all zero (VGG-16: 528 MiB; growing by doubling
  // held up to twice that).
  auto zero = [](const void* data, size_t bytes) {
    const char* c = static_cast<const char*>(data);
    return std::all_of(c, c + bytes, [](char b) { return b == 0; });
  };
  size_t bytes = weights.size();
  std::unordered_set<const Value*> zeroData;  // all bytes 0 (or none): zero-filled, not in `weights`
  for (const Value* g : m.globals) {
    if (zero(g->floats.data(), g->floats.size() * 4) && zero(g->ints.data(), g->ints.size() * 8))
      zeroData.insert(g);
    else
      bytes += g->floats.size() * 4 + g->ints.size() * 8;
  }
  weights.reserve(bytes);
  for (const auto* list : {&m.inputs, &m.globals}) {
    for (const Value* v : *list) {
      uint32_t index = table.add(v->name, v->type, v->offset, globalRole(*v, optimizerState));
      table.bind(v, index);
      table.nameShared(v->name, index);
      if (!v->isGlobal()) continue;
      if (!v->hasData() && !optimizerState.count(v)) throw ir::Error("plan: @" + v->name + " has no data");
      plan::Init* init = plan.add_inits();
      init->set_buffer(index);
      if (zeroData.count(v)) continue;  // bytes 0: zero-filled
      const size_t start = weights.size();
      if (!v->floats.empty()) appendBytes(weights, v->floats.data(), v->floats.size() * 4);
      if (!v->ints.empty()) appendBytes(weights, v->ints.data(), v->ints.size() * 8);
      init->set_weights_offset(start);
      init->set_bytes(weights.size() - start);
    }
  }
}

// The steps of `m` in order, with a buffer for every result and scratch; results of ops
// from `backwardFrom` on are gradients. `prefix` keeps a second program's buffer names apart.
void emitProgram(const Module& m, size_t backwardFrom, const std::string& prefix, plan::Program& program,
                 BufferTable& table) {
  const ValueMap<ResultRole> roles = classifyResults(m, backwardFrom);
  for (size_t i = 0; i < m.ops.size(); ++i) {
    const Op& op = *m.ops[i];
    if (op.kind == OpKind::PipelineGrad)
      throw ir::Error("plan: " + op.describe() + " must be lowered by lower-row-pipelines before a plan is emitted",
                      op.loc);
    plan::Step* step = program.add_steps();
    step->set_kernel(std::string(ir::opName(op.kind)));
    step->set_origin(op.origin.empty() && !op.results.empty() ? "%" + op.result()->name : op.origin);
    for (const Value* v : op.operands) step->add_inputs(table.of(v));
    for (const Value* r : op.results) {
      uint32_t index = table.add(prefix + r->name, r->type, r->offset, roleOf(roles.at(r)));
      setBand(table.buffer(index), *r);
      table.bind(r, index);
      step->add_outputs(index);
    }
    addAttrs(*step, op.attrs);
    step->set_scratch(-1);
    if (op.scratchBytes > 0) {
      ir::TensorType bytesType{ir::DType::F32, {op.scratchBytes / 4}};
      std::string owner = op.results.empty() ? std::to_string(i) : op.result()->name;
      step->set_scratch(table.add(prefix + "scratch:" + owner, bytesType, op.scratchOffset, plan::WORKSPACE));
    }
  }
}

// Live bytes by role at the op where the program's live total peaks (results of ops from
// `backwardFrom` on count as gradients).
plan::MemoryReport memoryAtPeak(const Module& m, size_t backwardFrom) {
  const std::vector<ir::LiveBuffer> buffers = ir::liveBuffers(m);
  const std::vector<plan::Role> roles = liveBufferRoles(m, buffers, backwardFrom);

  // The first op with the largest live total (differences over the ops: +bytes at a
  // buffer's first op, -bytes after its last), then the roles of what is live there.
  const int64_t ops = static_cast<int64_t>(m.ops.size());
  std::vector<int64_t> change(static_cast<size_t>(ops) + 1, 0);
  for (const ir::LiveBuffer& b : buffers) {
    const int64_t first = std::max<int64_t>(b.first, 0), last = std::min<int64_t>(b.last, ops - 1);
    if (first > last) continue;
    change[static_cast<size_t>(first)] += b.bytes;
    change[static_cast<size_t>(last + 1)] -= b.bytes;
  }
  int64_t peak = -1, bestTotal = -1, total = 0;
  for (int64_t t = 0; t < ops; ++t) {
    total += change[static_cast<size_t>(t)];
    if (total > bestTotal) bestTotal = total, peak = t;
  }
  plan::MemoryReport best;
  if (peak >= 0) {
    std::map<plan::Role, uint64_t> live;
    for (size_t i = 0; i < buffers.size(); ++i)
      if (buffers[i].first <= peak && peak <= buffers[i].last) live[roles[i]] += static_cast<uint64_t>(buffers[i].bytes);
    best.set_parameters(live[plan::PARAMETER] + live[plan::CONSTANT]);
    best.set_gradients(live[plan::GRADIENT]);
    best.set_optimizer_state(live[plan::OPTIMIZER_STATE]);
    best.set_activations(live[plan::ACTIVATION]);
    best.set_workspace(live[plan::WORKSPACE]);
    best.set_state(live[plan::STATE]);
    best.set_inputs(live[plan::INPUT]);
    best.set_activation_gradients(live[plan::ACTIVATION_GRADIENT]);
  }
  return best;
}

// The source model with the data of every initializer the plan holds removed (lrc-run
// writes the trained values back into it for --save-onnx).
// torch's eval-mode export shares one initializer among equal parameters through Identity
// nodes (VGG-16's zero biases); the importer unties them into parameters named after the
// Identity outputs. Each such Identity becomes an initializer of that name, so that every
// untied parameter's trained values are written back by --save-onnx.
void untieIdentityInitializers(onnx::GraphProto& graph, const Module& train) {
  for (int i = graph.node_size() - 1; i >= 0; --i) {
    const onnx::NodeProto& node = graph.node(i);
    if (node.op_type() != "Identity" || node.input_size() != 1 || node.output_size() != 1) continue;
    const Value* v = train.lookup(node.output(0));
    if (!v || !v->isGlobal()) continue;
    auto source = std::find_if(graph.initializer().begin(), graph.initializer().end(),
                               [&](const onnx::TensorProto& t) { return t.name() == node.input(0); });
    if (source == graph.initializer().end()) continue;
    onnx::TensorProto untied;
    untied.set_name(node.output(0));
    untied.set_data_type(source->data_type());
    untied.mutable_dims()->CopyFrom(source->dims());
    graph.mutable_node()->DeleteSubrange(i, 1);
    *graph.add_initializer() = std::move(untied);
  }
}

std::string strippedOnnx(const std::string& path, const Module& train, plan::Plan& plan,
                         const BufferTable& table) {
  onnx::ModelProto model;
  try {
    readOnnxModel(path, model);
  } catch (const ir::Error& e) {
    throw ir::Error(path + ": cannot read the model again for the plan: " + e.what());
  }
  untieIdentityInitializers(*model.mutable_graph(), train);
  for (onnx::TensorProto& t : *model.mutable_graph()->mutable_initializer()) {
    const Value* v = train.lookup(t.name());
    if (!v || !v->isGlobal()) continue;
    t.clear_raw_data();
    t.clear_float_data();
    t.clear_int64_data();
    t.clear_int32_data();
    t.clear_double_data();
    t.clear_external_data();
    t.set_data_location(onnx::TensorProto::DEFAULT);
    plan.mutable_buffers(static_cast<int>(table.of(v)))->set_onnx_name(t.name());
  }
  return model.SerializeAsString();
}

}  // namespace

// Ops after the loss belong to the backward pass: their results are gradients.
size_t lossIndex(const Module& m) {
  const size_t i = passes::lossPosition(m);
  if (i == m.ops.size()) throw ir::Error("plan: the training program has no loss");
  return i;
}

plan::Optimizer defaultOptimizer(ops::Optimizer optimizer) {
  plan::Optimizer o;
  switch (optimizer) {
    case ops::Optimizer::Sgd:
      o.set_kind(plan::SGD);
      o.set_lr(0.01);
      o.set_momentum(0.9);
      return o;
    case ops::Optimizer::AdamW:
      o.set_kind(plan::ADAMW);
      o.set_lr(1e-3);
      o.set_beta1(0.9);
      o.set_beta2(0.999);
      o.set_eps(1e-8);
      o.set_weight_decay(1e-2);
      return o;
  }
  throw std::logic_error("defaultOptimizer: not an optimizer");
}

plan::Plan emitPlan(const TrainingPrograms& programs, const std::string& onnxPath,
                    const plan::Optimizer& optimizer, std::string& weights) {
  const Module& train = *programs.train;
  const Module& eval = *programs.eval;
  plan::Plan plan = planHeader(train, std::max(ir::arenaBytes(train), ir::arenaBytes(eval)));

  for (const auto& op : train.ops) {
    if (ops::isOptimizerUpdate(op->kind) &&
        plan::optimizerKind(*ops::optimizerOfUpdate(op->kind)) != optimizer.kind())
      throw ir::Error("plan: " + op->describe() + " is not an update of the plan's optimizer, " +
                      plan::OptimizerKind_Name(optimizer.kind()));
    if (ops::isFusedOptimizerStep(op->kind) &&
        plan::optimizerKind(*ops::optimizerOfFusedStep(op->kind)) != optimizer.kind())
      throw ir::Error("plan: " + op->describe() + " is not a step of the plan's optimizer, " +
                      plan::OptimizerKind_Name(optimizer.kind()));
    if (ops::isFusedOptimizerStep(op->kind) && optimizer.nesterov())
      throw ir::Error("plan: " + op->describe() + ": Nesterov momentum needs the gradient apart from the momentum "
                      "buffer; compile with --no-fuse-sgd-grads");
  }
  ValueSet state = optimizerState(train);
  BufferTable table(plan);
  weights.clear();
  emitPersistentBuffers(train, state, table, plan, weights);
  for (const auto* list : {&eval.inputs, &eval.globals})
    for (const Value* v : *list) table.bind(v, table.byName(v->name));

  const size_t backwardFrom = lossIndex(train) + 1;
  emitProgram(train, backwardFrom, "", *plan.mutable_train(), table);
  emitProgram(eval, eval.ops.size(), "eval/", *plan.mutable_eval(), table);

  plan::Io* io = plan.mutable_io();
  if (train.inputs.size() != 2) throw ir::Error("plan: expected one image input and the labels");
  io->set_image(table.of(train.inputs[0]));
  io->set_labels(table.of(train.inputs[1]));
  io->set_loss(table.of(train.outputs.at(0)));
  // lrc-compile's training programs return the loss only (runTrainingPipeline: their logits
  // die with the loss's gradient; a loss inside a row pipeline never has them whole):
  // io.logits is then the evaluation's, read for its shape. A module that returns its logits
  // too (lrc-opt's, by hand) names them.
  io->set_logits(table.of(train.outputs.size() > 1 ? train.outputs[1] : eval.outputs.at(0)));
  io->set_eval_logits(table.of(eval.outputs.at(0)));

  *plan.mutable_optimizer() = optimizer;
  *plan.mutable_memory() = memoryAtPeak(train, backwardFrom);
  plan.set_onnx_model(strippedOnnx(onnxPath, train, plan, table));
  return plan;
}

plan::MemoryReport trainingMemoryReport(const Module& train) {
  return memoryAtPeak(train, lossIndex(train) + 1);
}

ActivationPart largestActivationPart(const Module& train) {
  const std::vector<ir::LiveBuffer> buffers = ir::liveBuffers(train);
  const std::vector<plan::Role> roles = liveBufferRoles(train, buffers, lossIndex(train) + 1);
  const int64_t ops = static_cast<int64_t>(train.ops.size());
  // Live bytes of each non-fixed role as differences over the ops: +bytes at a buffer's
  // first op, -bytes after its last.
  std::vector<std::array<int64_t, 3>> change(static_cast<size_t>(ops) + 1, {0, 0, 0});
  for (size_t i = 0; i < buffers.size(); ++i) {
    size_t kind;
    if (roles[i] == plan::ACTIVATION)
      kind = 0;
    else if (roles[i] == plan::ACTIVATION_GRADIENT)
      kind = 1;
    else if (roles[i] == plan::WORKSPACE)
      kind = 2;
    else
      continue;
    const int64_t first = std::max<int64_t>(buffers[i].first, 0);
    const int64_t last = std::min<int64_t>(buffers[i].last, ops - 1);
    if (first > last) continue;
    change[static_cast<size_t>(first)][kind] += buffers[i].bytes;
    change[static_cast<size_t>(last + 1)][kind] -= buffers[i].bytes;
  }
  ActivationPart best;
  std::array<int64_t, 3> live = {0, 0, 0};
  for (int64_t t = 0; t < ops; ++t) {
    for (size_t k = 0; k < 3; ++k) live[k] += change[static_cast<size_t>(t)][k];
    const uint64_t total = static_cast<uint64_t>(live[0] + live[1] + live[2]);
    if (t > 0 && total <= best.bytes) continue;
    best.bytes = total;
    best.activations = static_cast<uint64_t>(live[0]);
    best.activationGradients = static_cast<uint64_t>(live[1]);
    best.workspace = static_cast<uint64_t>(live[2]);
    best.op = static_cast<size_t>(t);
  }
  return best;
}

int64_t trainingArenaBytes(const TrainingPrograms& programs) {
  return std::max(ir::arenaBytes(*programs.train), ir::arenaBytes(*programs.eval));
}

plan::Plan emitForwardPlan(const Module& forward, std::string& weights) {
  plan::Plan plan = planHeader(forward, ir::arenaBytes(forward));
  BufferTable table(plan);
  weights.clear();
  emitPersistentBuffers(forward, {}, table, plan, weights);
  emitProgram(forward, forward.ops.size(), "", *plan.mutable_train(), table);
  *plan.mutable_memory() = memoryAtPeak(forward, forward.ops.size());
  return plan;
}

}  // namespace lrc::compiler
