// The lrc graph IR: a module of SSA values (graph inputs, parameters, op results) and a
// list of ops in program order. Depends on nothing of lrc's.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <unordered_set>
#include <vector>

#include "ops/OpTable.h"

namespace lrc::ir {

// A position in IR text (1-based); line 0 means "not from text".
struct Location {
  int line = 0;
  int col = 0;
};

// Every IR-level failure (parse, verify, pass) is one of these. `what()` is the message
// without position; tools format it as `file:line:col: error: message`.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, Location loc = {})
      : std::runtime_error(message), loc_(loc) {}
  Location location() const { return loc_; }

 private:
  Location loc_;
};

enum class DType { F32, I64 };
std::string_view dtypeName(DType t);  // "f32", "i64"
std::optional<DType> dtypeFromName(std::string_view s);

struct TensorType {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;  // static; empty = scalar
  int64_t numElements() const;
  int64_t bytes() const;  // numElements times the element size
  std::string str() const;  // f32[8,16,32,32]
  bool operator==(const TensorType&) const = default;
};

// The op kinds and their properties: ops/Ops.def, the one table.
using OpKind = ops::OpKind;
std::string_view opName(OpKind k);
std::optional<OpKind> opKindFromName(std::string_view s);
struct OpArity {
  int minOperands, maxOperands, results;
};
OpArity opArity(OpKind k);

// Attribute values: integers, floats, lists of either, strings.
using IntList = std::vector<int64_t>;
using FloatList = std::vector<double>;
using Attr = std::variant<int64_t, double, IntList, FloatList, std::string>;
using Attrs = std::map<std::string, Attr>;  // sorted: printing order is the key order

class Op;

enum class ValueKind {
  Input,   // graph input (data)
  Param,   // trainable parameter (weight, bias, BatchNorm scale/shift)
  State,   // non-trainable state updated by training (BatchNorm running statistics)
  Const,   // constant data, never updated
  Result,  // produced by an op
};
std::string_view valueKindKeyword(ValueKind k);  // "input", "param", "state", "const"

class Value {
 public:
  ValueKind kind;
  std::string name;  // ONNX name where one exists; unique in the module
  TensorType type;
  Op* def = nullptr;  // the defining op for results
  // Data of params/state/consts (f32 in floats, i64 in ints). Empty when the IR came
  // from text without data.
  std::vector<float> floats;
  std::vector<int64_t> ints;
  // Byte offset in the training arena, assigned by the plan-memory pass; -1 = unplanned.
  int64_t offset = -1;
  // Creation order in the process (0, 1, 2, ..., over all modules, so values of two modules
  // never compare equal): the key of ValueMap and ValueSet, so that whatever is iterated by
  // value comes out the same in every run, whatever the heap's addresses (pointer order
  // depended on the lengths of the file paths given to lrc-compile).
  uint64_t id = 0;
  bool hasData() const { return !floats.empty() || !ints.empty(); }
  bool isGlobal() const { return kind != ValueKind::Input && kind != ValueKind::Result; }
};

class Op {
 public:
  OpKind kind;
  std::vector<Value*> operands;
  std::vector<Value*> results;
  Attrs attrs;
  std::string origin;  // the ONNX node name it came from, for error messages
  Location loc;
  // Scratch memory the op's kernel needs while it runs (im2col), placed by plan-memory.
  int64_t scratchOffset = -1;
  int64_t scratchBytes = 0;

  Value* result() const { return results.at(0); }
  bool has(const std::string& key) const { return attrs.count(key) != 0; }
  int64_t getInt(const std::string& key) const;
  double getFloat(const std::string& key) const;  // accepts an int attribute too
  const IntList& getInts(const std::string& key) const;
  FloatList getFloats(const std::string& key) const;  // accepts a list of integers too
  // The accumulating form of a weight-gradient kernel (ops::canAccumulate): attribute
  // accumulate=1, no result, its last operand added into in place.
  bool accumulates() const;
  // Training-mode BatchNorm (its running statistics), optimizer updates and accumulating ops
  // write state: never dead.
  bool hasSideEffects() const;
  // Names the op for diagnostics: `conv2d 'node_name'` or `conv2d %result`.
  std::string describe() const;
};

// Containers keyed by values, ordered by creation (Value::id), never by address: use these
// wherever the iteration order can reach the output.
struct ValueOrder {
  bool operator()(const Value* a, const Value* b) const { return a->id < b->id; }
};
template <class T>
using ValueMap = std::map<const Value*, T, ValueOrder>;
using ValueSet = std::set<const Value*, ValueOrder>;

// Row plans (docs/row-plans.md): a band value holds rows [begin, end) of a map of full
// height `height`; its type's dim 2 is end - begin. The op defining it says so with the
// attribute `band=[begin,end,height]` (result 0 only).
struct Band {
  int64_t begin = 0, end = 0, height = 0;
};
std::optional<Band> bandOf(const Value& v);  // nullopt: a whole tensor
// The type of the whole map a band value is part of (the value's own type otherwise).
TensorType fullType(const Value& v);

// The module owns all values and ops. Ops are kept in program order.
class Module {
 public:
  std::string name = "main";
  std::vector<Value*> inputs;   // graph inputs, in order
  std::vector<Value*> globals;  // params, state and consts, in declaration order
  std::vector<std::unique_ptr<Op>> ops;
  std::vector<Value*> outputs;

  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // A deep copy: values (with data and placements), ops, outputs.
  std::unique_ptr<Module> clone() const;

  Value* addInput(std::string name, TensorType t);
  Value* addGlobal(ValueKind kind, std::string name, TensorType t);
  // Appends an op; result types are taken as given (use inferTypes to compute them).
  Op* addOp(OpKind kind, std::vector<Value*> operands, Attrs attrs,
            std::vector<std::pair<std::string, TensorType>> results);
  // Inserts an op before position `index` in `ops`.
  Op* insertOp(size_t index, OpKind kind, std::vector<Value*> operands, Attrs attrs,
               std::vector<std::pair<std::string, TensorType>> results);

  Value* lookup(const std::string& name) const;  // nullptr when absent
  std::string uniqueName(const std::string& base) const;

  // Replaces every use of `from` (operands and module outputs) by `to`.
  void replaceAllUses(Value* from, Value* to);
  // Removes ops whose results are unused and globals no op uses; returns how many ops went.
  size_t eraseDeadOps();
  void eraseOp(Op* op);  // the op's results must be unused
  // Erases these ops together, in one scan of the program: their results may be read only
  // by each other.
  void eraseOps(const std::vector<Op*>& erased);
  std::vector<Op*> users(const Value* v) const;

 private:
  Value* newValue(ValueKind kind, std::string name, TensorType t);
  // Removes these ops and their results' names (the callers checked their results unread).
  void dropOps(const std::unordered_set<const Op*>& gone);
  std::vector<std::unique_ptr<Value>> values_;
  std::map<std::string, Value*> byName_;
};

}  // namespace lrc::ir
