#include "ir/Verifier.h"

#include <algorithm>
#include <string_view>
#include <unordered_set>

#include "ir/Liveness.h"
#include "ir/ShapeInference.h"

namespace lrc::ir {

namespace {

[[noreturn]] void fail(const Op& op, const std::string& what) {
  throw Error(op.describe() + ": " + what, op.loc);
}

void verifyGlobal(const Value& g) {
  if (!g.isGlobal())
    throw Error("'" + g.name + "' is listed as a parameter but is a " +
                std::string(valueKindKeyword(g.kind)));
  if (!g.hasData()) return;
  bool f32 = g.type.dtype == DType::F32;
  size_t count = f32 ? g.floats.size() : g.ints.size();
  if ((f32 && !g.ints.empty()) || (!f32 && !g.floats.empty()) ||
      count != static_cast<size_t>(g.type.numElements()))
    throw Error("@" + g.name + ": data does not match its type " + g.type.str());
}

// Once plan-memory has run, every buffer has an aligned place and no two buffers that are
// live at the same time share a byte.
void verifyMemory(const Module& m) {
  std::vector<LiveBuffer> buffers = liveBuffers(m);
  auto at = [](const LiveBuffer& b) {
    const Op* op = b.value ? b.value->def : b.scratchOf;
    return op ? op->loc : Location{};
  };
  bool planned = std::any_of(buffers.begin(), buffers.end(), [](auto& b) { return b.offset >= 0; });
  if (!planned) return;
  for (const LiveBuffer& b : buffers) {
    if (b.offset < 0) throw Error(b.describe() + " has no place in the arena while others do", at(b));
    if (b.offset % kArenaAlignment != 0)
      throw Error(b.describe() + " at offset " + std::to_string(b.offset) + " is not " +
                      std::to_string(kArenaAlignment) + "-byte aligned",
                  at(b));
  }
  // By offset (stable: the first pair found is the same in every run): a buffer can overlap
  // only the ones placed after it that start before it ends.
  std::vector<const LiveBuffer*> byOffset;
  for (const LiveBuffer& b : buffers) byOffset.push_back(&b);
  std::stable_sort(byOffset.begin(), byOffset.end(),
                   [](const LiveBuffer* a, const LiveBuffer* b) { return a->offset < b->offset; });
  for (size_t i = 0; i < byOffset.size(); ++i) {
    const LiveBuffer& a = *byOffset[i];
    for (size_t j = i + 1; j < byOffset.size() && byOffset[j]->offset < a.offset + a.bytes; ++j)
      if (conflicts(a, *byOffset[j]))
        throw Error(a.describe() + " and " + byOffset[j]->describe() +
                        " are live at the same time and overlap in the arena",
                    at(*byOffset[j]));
  }
}

}  // namespace

void verifyModule(const Module& m, bool checkTypes) {
  // Membership only (nothing here is iterated): hashed.
  std::unordered_set<const Value*> defined;
  std::unordered_set<const Value*> updated;  // parameters (and their state) an optimizer update has already changed
  std::unordered_set<std::string_view> names;
  auto define = [&](const Value* v) {
    if (!names.insert(v->name).second) throw Error("value '" + v->name + "' is defined twice");
    defined.insert(v);
  };
  for (const Value* in : m.inputs) {
    if (in->kind != ValueKind::Input) throw Error("'" + in->name + "' is listed as an input but is not one");
    define(in);
  }
  for (const Value* g : m.globals) {
    verifyGlobal(*g);
    define(g);
  }
  for (const auto& opPtr : m.ops) {
    const Op& op = *opPtr;
    OpArity arity = opArity(op.kind);
    const int results = op.accumulates() ? 0 : arity.results;  // an accumulating op adds into its last operand
    if (results >= 0 && static_cast<int>(op.results.size()) != results)
      fail(op, "expects " + std::to_string(results) + " results, got " + std::to_string(op.results.size()));
    for (const Value* operand : op.operands) {
      if (!operand) fail(op, "has a null operand");
      if (!defined.count(operand))
        fail(op, "uses %" + operand->name + " before it is defined");
      // Backward ops must read the weights the forward used, not the updated ones.
      if (updated.count(operand))
        fail(op, "reads @" + operand->name + " after an optimizer update changed it");
    }
    if (ops::isOptimizerUpdate(op.kind) && !op.operands.empty()) {
      if (!updated.insert(op.operands[0]).second)
        fail(op, "updates @" + op.operands[0]->name + " a second time");
      for (size_t i = 2; i < op.operands.size(); ++i) updated.insert(op.operands[i]);  // its state
    }
    if (ops::isFusedOptimizerStep(op.kind) && op.operands.size() == 2) {  // sgd_apply: (param, state)
      if (!updated.insert(op.operands[0]).second)
        fail(op, "updates @" + op.operands[0]->name + " a second time");
      updated.insert(op.operands[1]);
    }
    std::vector<TensorType> expected =
        checkTypes ? inferResultTypes(op) : std::vector<TensorType>{};
    for (size_t i = 0; i < op.results.size(); ++i) {
      const Value* r = op.results[i];
      if (r->kind != ValueKind::Result || r->def != &op)
        fail(op, "result %" + r->name + " is not owned by this op");
      if (checkTypes && r->type != expected[i])
        fail(op, "result %" + r->name + " has type " + r->type.str() + " but the op produces " +
                     expected[i].str());
      define(r);
    }
  }
  if (m.outputs.empty()) throw Error("module @" + m.name + " has no outputs");
  for (const Value* out : m.outputs)
    if (!defined.count(out)) throw Error("output %" + out->name + " is not defined");
  if (checkTypes) verifyMemory(m);
}

}  // namespace lrc::ir
