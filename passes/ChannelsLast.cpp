// Channels-last round trips as NCHW ops: passes/ChannelsLast.h.
#include "passes/ChannelsLast.h"

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

#include "ops/OpTable.h"

namespace lrc::passes {

namespace {

using ir::IntList;
using ir::Op;
using ir::OpKind;
using ir::Value;

const IntList kToLast = {0, 2, 3, 1};
const IntList kToFirst = {0, 3, 1, 2};

bool isTranspose(const Op& op, const IntList& perm) {
  return op.kind == OpKind::Transpose && op.getInts("perm") == perm && op.operands[0]->type.shape.size() == 4;
}

// The NCHW shape of an NHWC one.
std::vector<int64_t> toNchw(const std::vector<int64_t>& s) { return {s[0], s[3], s[1], s[2]}; }

// A tensor broadcast over the last axis of an [N,H,W,C] map only: every dim 1 but the last
// (C or 1), rank <= 4.
bool isPerChannel(const std::vector<int64_t>& s, int64_t c) {
  if (s.size() > 4) return false;
  for (size_t i = 0; i + 1 < s.size(); ++i)
    if (s[i] != 1) return false;
  return s.empty() || s.back() == 1 || s.back() == c;
}

// One round trip: the entry transpose, the ops between (program order) and the closing transposes.
struct RoundTrip {
  Op* entry = nullptr;
  std::vector<Op*> ops, exits;
  ir::ValueSet inside;            // the channels-last maps: the entry's result and the ops' results
  std::map<const Op*, Op*> linear;  // a Linear's last reshape (in ops) -> its matmul
};

class Folder {
 public:
  explicit Folder(ir::Module& m) : m_(m) {
    for (size_t i = 0; i < m.ops.size(); ++i) index_[m.ops[i].get()] = i;
  }

  // The round trip opened by `entry`, if every op in it is per-pixel.
  std::optional<RoundTrip> match(Op* entry) const {
    RoundTrip t;
    t.entry = entry;
    ir::ValueSet& inside = t.inside;
    inside.insert(entry->result());
    std::vector<Value*> work = {entry->result()};
    std::vector<Op*> found;
    while (!work.empty()) {
      Value* v = work.back();
      work.pop_back();
      if (isOutput(v)) return std::nullopt;
      for (Op* u : m_.users(v)) {
        if (isTranspose(*u, kToFirst)) {
          if (std::find(t.exits.begin(), t.exits.end(), u) == t.exits.end()) t.exits.push_back(u);
          continue;
        }
        if (u->kind == OpKind::Reshape || u->kind == OpKind::Flatten) {  // a Linear's first op: the unit is its last
          Op* matmul = linearMatmul(*u);
          if (!matmul) return std::nullopt;
          u = m_.users(matmul->result()).front();
          t.linear[u] = matmul;
        }
        if (std::find(found.begin(), found.end(), u) != found.end()) continue;
        if (u->results.size() != 1) return std::nullopt;
        found.push_back(u);
        inside.insert(u->result());
        work.push_back(u->result());
      }
    }
    if (t.exits.empty()) return std::nullopt;
    std::sort(found.begin(), found.end(), [&](const Op* a, const Op* b) { return index_.at(a) < index_.at(b); });
    for (const Op* op : found)
      if (!perPixel(*op, t)) return std::nullopt;
    t.ops = std::move(found);
    return t;
  }

  void rewrite(const RoundTrip& t) {
    Value* x = t.entry->operands[0];
    // Weight ops go before the op computing x, unless that op comes before a tensor they read
    // (or x is no op's): then where the entry was.
    size_t at = x->def ? index_.at(x->def) : index_.at(t.entry);
    for (const Op* op : t.ops)
      for (Value* v : t.linear.count(op) ? std::vector<Value*>{transposed(t.linear.at(op)->operands[1])} : op->operands)
        if (!t.inside.count(v) && v->def && index_.at(v->def) >= at) at = index_.at(t.entry);
    m_.replaceAllUses(t.entry->result(), x);
    for (Op* op : t.ops) {
      const int64_t c = op->result()->type.shape[3];
      if (op->kind == OpKind::LayerNorm) {
        op->attrs["axis"] = int64_t{1};
        op->attrs["end"] = int64_t{2};
      } else if (t.linear.count(op)) {  // reshape(matmul(reshape(x), W)) -> conv2d(x, W as [D,C,1,1])
        const Op* matmul = t.linear.at(op);
        op->kind = OpKind::Conv2d;
        op->operands = {matmul->operands[0]->def->operands[0], convWeight(matmul->operands[1], at)};
        op->attrs = {{"dilation", IntList{1, 1}}, {"group", int64_t{1}}, {"pad", IntList{0, 0, 0, 0}},
                     {"stride", IntList{1, 1}}};
      } else if (ops::isBinaryElementwise(op->kind)) {
        if (foldBias(*op)) continue;
        for (Value*& v : op->operands)  // a tensor over the last axis: over the channels
          if (!t.inside.count(v) && !v->type.shape.empty() && v->type.shape.back() != 1) v = reshaped(v, {c, 1, 1}, at);
      }
      op->result()->type.shape = toNchw(op->result()->type.shape);
    }
    for (Op* exit : t.exits) m_.replaceAllUses(exit->result(), exit->operands[0]);
  }

 private:
  ir::Module& m_;
  std::map<const Op*, size_t> index_;

  bool isOutput(const Value* v) const { return std::find(m_.outputs.begin(), m_.outputs.end(), v) != m_.outputs.end(); }

  // A value from outside the round trip: a global or input, or computed before it opens.
  bool before(const Value* v, size_t entry) const { return !v->def || index_.at(v->def) < entry; }

  // A Linear on the last axis, as the importer spells an N-D MatMul: reshape [N,H,W,C] ->
  // [N*H*W, C] (canonicalize makes it flatten {axis=3}), matmul by W [C,D], reshape ->
  // [N,H,W,D], each the only reader of the one before.
  // Its matmul, when `first` starts one.
  Op* linearMatmul(const Op& first) const {
    const auto& x = first.operands[0]->type.shape;
    const Value* rows = first.result();
    if (x.size() != 4 || rows->type.shape != std::vector<int64_t>{x[0] * x[1] * x[2], x[3]} || isOutput(rows)) return nullptr;
    const std::vector<Op*> readers = m_.users(rows);
    if (readers.size() != 1 || readers[0]->kind != OpKind::MatMul || readers[0]->operands[0] != rows) return nullptr;
    Op* matmul = readers[0];
    if (isOutput(matmul->result())) return nullptr;
    const std::vector<Op*> after = m_.users(matmul->result());
    const int64_t d = matmul->result()->type.shape[1];
    if (after.size() != 1 || after[0]->kind != OpKind::Reshape ||
        after[0]->result()->type.shape != std::vector<int64_t>{x[0], x[1], x[2], d})
      return nullptr;
    return matmul;
  }

  bool perPixel(const Op& op, const RoundTrip& t) const {
    const ir::ValueSet& inside = t.inside;
    const size_t entry = index_.at(t.entry);
    const auto& y = op.result()->type.shape;
    const Value* x = t.linear.count(&op) ? t.linear.at(&op)->operands[0]->def->operands[0] : op.operands[0];
    if (y.size() != 4 || (!inside.count(x) && !ops::isBinaryElementwise(op.kind))) return false;
    const auto& pixels = x->type.shape;
    if (ops::isUnaryPointwise(op.kind)) return op.operands.size() == 1 && y == pixels;
    if (op.kind == OpKind::LayerNorm)
      return op.getInt("axis") == 3 && op.getInt("end") == 4 &&
             std::all_of(op.operands.begin() + 1, op.operands.end(), [&](const Value* v) { return before(v, entry); });
    if (t.linear.count(&op)) {
      const Value* w = t.linear.at(&op)->operands[1];
      return w->type.shape.size() == 2 && before(transposed(w), entry) && w->type.shape[0] == pixels[3];
    }
    if (!ops::isBinaryElementwise(op.kind)) return false;
    bool anyMap = false;
    for (const Value* v : op.operands) {
      if (inside.count(v)) {
        if (v->type.shape != y) return false;
        anyMap = true;
      } else if (!before(v, entry) || !isPerChannel(v->type.shape, y[3])) {
        return false;
      }
    }
    return anyMap;
  }

  Op* insert(size_t& at, OpKind kind, Value* x, ir::Attrs attrs, std::vector<int64_t> shape) {
    Op* op = m_.insertOp(at++, kind, {x}, std::move(attrs),
                         {{m_.uniqueName(x->name + (kind == OpKind::Reshape ? ".nchw" : ".t")), {x->type.dtype, shape}}});
    return op;
  }

  Value* reshaped(Value* v, std::vector<int64_t> shape, size_t& at) {
    const IntList target(shape.begin(), shape.end());
    return insert(at, OpKind::Reshape, v, {{"shape", target}}, std::move(shape))->result();
  }

  // W [C,D] as a 1x1 convolution's weight [D,C,1,1]: reshape(transpose(W)), or reshape(V) when
  // W = transpose(V) {perm=[1,0]}.
  Value* convWeight(Value* w, size_t& at) {
    const int64_t c = w->type.shape[0], d = w->type.shape[1];
    Value* t = transposed(w);
    if (t == w) t = insert(at, OpKind::Transpose, w, {{"perm", IntList{1, 0}}}, {d, c})->result();
    return reshaped(t, {d, c, 1, 1}, at);
  }

  // V when w = transpose(V) {perm=[1,0]}, else w itself.
  template <class V>
  static V* transposed(V* w) {
    return w->def && w->def->kind == OpKind::Transpose && w->def->getInts("perm") == IntList{1, 0} ? w->def->operands[0]
                                                                                                    : w;
  }


  // add(conv2d(x, w) of a matmul, b [D]) with the conv its only reader: b becomes its bias.
  bool foldBias(Op& add) {
    if (add.kind != OpKind::Add) return false;
    for (size_t i = 0; i < 2; ++i) {
      Op* conv = add.operands[i]->def;
      Value* b = add.operands[1 - i];
      if (!conv || conv->kind != OpKind::Conv2d || conv->operands.size() != 2 || m_.users(conv->result()).size() != 1)
        continue;
      if (b->type.shape != std::vector<int64_t>{conv->result()->type.shape[1]}) continue;
      conv->operands.push_back(b);
      m_.replaceAllUses(add.result(), conv->result());
      return true;
    }
    return false;
  }
};

}  // namespace

bool foldChannelsLastRoundTrips(ir::Module& m) {
  bool changed = false;
  for (bool again = true; again;) {
    again = false;
    Folder f(m);
    for (auto& op : m.ops)
      if (isTranspose(*op, kToLast))
        if (auto t = f.match(op.get())) {
          f.rewrite(*t);
          changed = again = true;
          break;  // the op list changed: index again
        }
    if (again) m.eraseDeadOps();
  }
  return changed;
}

}  // namespace lrc::passes
