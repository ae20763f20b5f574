#include "ir/IR.h"

#include <algorithm>
#include <atomic>
#include <set>
#include <unordered_set>

#include "ops/Checked.h"

namespace lrc::ir {

std::string_view dtypeName(DType t) { return t == DType::F32 ? "f32" : "i64"; }

std::optional<DType> dtypeFromName(std::string_view s) {
  if (s == "f32") return DType::F32;
  if (s == "i64") return DType::I64;
  return std::nullopt;
}

// Types are checked where they enter (parser, importer, shape rules: ops::sizeProblem), so
// these do not fail; if a type got past that, the error still beats a wrapped size.
int64_t TensorType::numElements() const {
  if (const std::optional<int64_t> n = ops::product(shape).value()) return *n;
  throw Error(str() + " has too many elements to count");
}

int64_t TensorType::bytes() const {
  if (const std::optional<int64_t> n = (ops::Checked(numElements()) * (dtype == DType::F32 ? 4 : 8)).value()) return *n;
  throw Error(str() + " has too many bytes to count");
}

std::string TensorType::str() const {
  std::string s(dtypeName(dtype));
  s += '[';
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(shape[i]);
  }
  return s + ']';
}

std::string_view opName(OpKind k) { return ops::name(k); }
OpArity opArity(OpKind k) {
  const ops::OpInfo& i = ops::info(k);
  return {i.minOperands, i.maxOperands, i.results};
}

std::optional<Band> bandOf(const Value& v) {
  if (!v.def || v.def->results.empty() || v.def->results[0] != &v) return std::nullopt;
  auto it = v.def->attrs.find("band");
  if (it == v.def->attrs.end()) return std::nullopt;
  const IntList* l = std::get_if<IntList>(&it->second);
  if (!l || l->size() != 3) throw Error(v.def->describe() + ": attribute 'band' must be [begin, end, height]", v.def->loc);
  return Band{(*l)[0], (*l)[1], (*l)[2]};
}

TensorType fullType(const Value& v) {
  TensorType t = v.type;
  if (auto b = bandOf(v); b && t.shape.size() == 4) t.shape[2] = b->height;
  return t;
}

std::optional<OpKind> opKindFromName(std::string_view s) { return ops::kindByName(s); }

std::string_view valueKindKeyword(ValueKind k) {
  switch (k) {
    case ValueKind::Input: return "input";
    case ValueKind::Param: return "param";
    case ValueKind::State: return "state";
    case ValueKind::Const: return "const";
    case ValueKind::Result: return "result";
  }
  return "?";
}

int64_t Op::getInt(const std::string& key) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) throw Error(describe() + ": missing attribute '" + key + "'", loc);
  if (auto* v = std::get_if<int64_t>(&it->second)) return *v;
  throw Error(describe() + ": attribute '" + key + "' must be an integer", loc);
}

double Op::getFloat(const std::string& key) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) throw Error(describe() + ": missing attribute '" + key + "'", loc);
  if (auto* v = std::get_if<double>(&it->second)) return *v;
  if (auto* v = std::get_if<int64_t>(&it->second)) return static_cast<double>(*v);
  throw Error(describe() + ": attribute '" + key + "' must be a number", loc);
}

const IntList& Op::getInts(const std::string& key) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) throw Error(describe() + ": missing attribute '" + key + "'", loc);
  if (auto* v = std::get_if<IntList>(&it->second)) return *v;
  throw Error(describe() + ": attribute '" + key + "' must be a list of integers", loc);
}

FloatList Op::getFloats(const std::string& key) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) throw Error(describe() + ": missing attribute '" + key + "'", loc);
  if (auto* v = std::get_if<FloatList>(&it->second)) return *v;
  if (auto* v = std::get_if<IntList>(&it->second)) return FloatList(v->begin(), v->end());
  throw Error(describe() + ": attribute '" + key + "' must be a list of numbers", loc);
}

bool Op::accumulates() const {
  auto it = attrs.find("accumulate");
  return it != attrs.end() && it->second == Attr{int64_t{1}};
}

bool Op::hasSideEffects() const {
  if (ops::isOptimizerUpdate(kind) || ops::isFusedOptimizerStep(kind) || ops::isCollective(kind) ||
      kind == OpKind::BatchNormStats || accumulates())
    return true;  // updates in place
  auto it = attrs.find("training");
  auto update = attrs.find("update_stats");  // 0: a strip's recompute in backward
  return kind == OpKind::BatchNorm && it != attrs.end() && it->second == Attr{int64_t{1}} &&
         (update == attrs.end() || update->second != Attr{int64_t{0}});
}

std::string Op::describe() const {
  std::string s(opName(kind));
  if (!origin.empty()) return s + " '" + origin + "'";
  if (!results.empty()) return s + " %" + results[0]->name;
  return s;
}

std::unique_ptr<Module> Module::clone() const {
  auto copy = std::make_unique<Module>();
  copy->name = name;
  ValueMap<Value*> map;
  auto copyData = [](const Value& from, Value& to) {
    to.floats = from.floats;
    to.ints = from.ints;
    to.offset = from.offset;
  };
  for (const Value* in : inputs) copyData(*in, *(map[in] = copy->addInput(in->name, in->type)));
  for (const Value* g : globals) copyData(*g, *(map[g] = copy->addGlobal(g->kind, g->name, g->type)));
  for (const auto& op : ops) {
    std::vector<Value*> operands;
    for (const Value* v : op->operands) operands.push_back(map.at(v));
    std::vector<std::pair<std::string, TensorType>> results;
    for (const Value* r : op->results) results.emplace_back(r->name, r->type);
    Op* c = copy->addOp(op->kind, std::move(operands), op->attrs, std::move(results));
    c->origin = op->origin;
    c->loc = op->loc;
    c->scratchOffset = op->scratchOffset;
    c->scratchBytes = op->scratchBytes;
    for (size_t i = 0; i < op->results.size(); ++i) {
      map[op->results[i]] = c->results[i];
      c->results[i]->offset = op->results[i]->offset;
    }
  }
  for (const Value* out : outputs) copy->outputs.push_back(map.at(out));
  return copy;
}

Value* Module::newValue(ValueKind kind, std::string name, TensorType t) {
  if (name.empty()) name = uniqueName("v");
  if (byName_.count(name)) throw Error("value name '" + name + "' is defined twice");
  auto v = std::make_unique<Value>();
  v->kind = kind;
  v->name = std::move(name);
  v->type = std::move(t);
  static std::atomic<uint64_t> nextId{0};
  v->id = nextId++;
  Value* raw = v.get();
  byName_[raw->name] = raw;
  values_.push_back(std::move(v));
  return raw;
}

Value* Module::addInput(std::string name, TensorType t) {
  Value* v = newValue(ValueKind::Input, std::move(name), std::move(t));
  inputs.push_back(v);
  return v;
}

Value* Module::addGlobal(ValueKind kind, std::string name, TensorType t) {
  Value* v = newValue(kind, std::move(name), std::move(t));
  globals.push_back(v);
  return v;
}

Op* Module::addOp(OpKind kind, std::vector<Value*> operands, Attrs attrs,
                  std::vector<std::pair<std::string, TensorType>> results) {
  return insertOp(ops.size(), kind, std::move(operands), std::move(attrs), std::move(results));
}

Op* Module::insertOp(size_t index, OpKind kind, std::vector<Value*> operands, Attrs attrs,
                     std::vector<std::pair<std::string, TensorType>> results) {
  auto op = std::make_unique<Op>();
  op->kind = kind;
  op->operands = std::move(operands);
  op->attrs = std::move(attrs);
  for (auto& [name, type] : results) {
    Value* v = newValue(ValueKind::Result, name, type);
    v->def = op.get();
    op->results.push_back(v);
  }
  Op* raw = op.get();
  ops.insert(ops.begin() + static_cast<std::ptrdiff_t>(index), std::move(op));
  return raw;
}

Value* Module::lookup(const std::string& name) const {
  auto it = byName_.find(name);
  return it == byName_.end() ? nullptr : it->second;
}

std::string Module::uniqueName(const std::string& base) const {
  if (!base.empty() && !byName_.count(base)) return base;
  for (size_t i = 0;; ++i) {
    std::string candidate = base + std::to_string(i);
    if (!byName_.count(candidate)) return candidate;
  }
}

void Module::replaceAllUses(Value* from, Value* to) {
  for (auto& op : ops)
    for (Value*& operand : op->operands)
      if (operand == from) operand = to;
  for (Value*& out : outputs)
    if (out == from) out = to;
}

std::vector<Op*> Module::users(const Value* v) const {
  std::vector<Op*> result;
  for (auto& op : ops)
    if (std::find(op->operands.begin(), op->operands.end(), v) != op->operands.end())
      result.push_back(op.get());
  return result;
}

void Module::eraseOp(Op* op) {
  for (Value* r : op->results)
    if (!users(r).empty() || std::find(outputs.begin(), outputs.end(), r) != outputs.end())
      throw Error(op->describe() + ": cannot erase an op whose result is still used", op->loc);
  for (Value* r : op->results) byName_.erase(r->name);
  auto it = std::find_if(ops.begin(), ops.end(), [&](auto& p) { return p.get() == op; });
  ops.erase(it);
  // The values stay owned (and unnamed) so stale pointers never dangle mid-pass.
}

void Module::eraseOps(const std::vector<Op*>& erased) {
  const std::unordered_set<const Op*> gone(erased.begin(), erased.end());
  std::unordered_set<const Value*> read(outputs.begin(), outputs.end());
  for (auto& op : ops)
    if (!gone.count(op.get())) read.insert(op->operands.begin(), op->operands.end());
  for (const Op* op : erased)
    for (const Value* r : op->results)
      if (read.count(r)) throw Error(op->describe() + ": cannot erase an op whose result is still used", op->loc);
  dropOps(gone);
}

void Module::dropOps(const std::unordered_set<const Op*>& gone) {
  for (const Op* op : gone)
    for (const Value* r : op->results) byName_.erase(r->name);
  std::erase_if(ops, [&](const std::unique_ptr<Op>& op) { return gone.count(op.get()) != 0; });
}

size_t Module::eraseDeadOps() {
  size_t erased = 0;
  // Each round erases, in one sweep, every op none of whose results is read (eraseOp's own
  // check, one scan of the program per op, made this quadratic); ops only they read go next round.
  for (bool again = true; again;) {
    std::unordered_set<const Value*> used(outputs.begin(), outputs.end());
    for (auto& op : ops) used.insert(op->operands.begin(), op->operands.end());
    std::unordered_set<const Op*> dead;
    for (auto& op : ops)
      if (!op->hasSideEffects() &&
          std::none_of(op->results.begin(), op->results.end(), [&](Value* r) { return used.count(r); }))
        dead.insert(op.get());
    dropOps(dead);
    erased += dead.size();
    again = !dead.empty();
  }
  ValueSet used(outputs.begin(), outputs.end());  // a global can be an output
  for (auto& op : ops) used.insert(op->operands.begin(), op->operands.end());
  std::erase_if(globals, [&](Value* g) {
    if (used.count(g)) return false;
    byName_.erase(g->name);
    return true;
  });
  return erased;
}

}  // namespace lrc::ir
