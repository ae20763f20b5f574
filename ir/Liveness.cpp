#include "ir/Liveness.h"

#include <algorithm>
#include <map>

#include "ir/Printer.h"

namespace lrc::ir {

std::string LiveBuffer::describe() const {
  if (value) return printValueRef(*value);
  return "scratch of " + scratchOf->describe();
}

std::vector<LiveBuffer> liveBuffers(const Module& m) {
  const int64_t end = static_cast<int64_t>(m.ops.size());
  ValueMap<int64_t> lastUse;
  for (int64_t i = 0; i < end; ++i)
    for (const Value* operand : m.ops[i]->operands) lastUse[operand] = i;
  for (const Value* out : m.outputs) lastUse[out] = end;

  std::vector<LiveBuffer> buffers;
  auto whole = [&](Value* v) { buffers.push_back({v, nullptr, -1, end, v->type.bytes(), v->offset}); };
  for (Value* in : m.inputs) whole(in);
  for (Value* g : m.globals) whole(g);
  for (int64_t i = 0; i < end; ++i) {
    Op* op = m.ops[i].get();
    for (Value* r : op->results) {
      auto it = lastUse.find(r);
      int64_t last = it == lastUse.end() ? i : it->second;
      buffers.push_back({r, nullptr, i, last, r->type.bytes(), r->offset});
    }
    if (op->scratchBytes > 0) buffers.push_back({nullptr, op, i, i, op->scratchBytes, op->scratchOffset});
  }
  return buffers;
}

bool conflicts(const LiveBuffer& a, const LiveBuffer& b) {
  bool timeOverlap = a.first <= b.last && b.first <= a.last;
  bool spaceOverlap = a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes;
  return timeOverlap && spaceOverlap && a.bytes > 0 && b.bytes > 0;
}

int64_t arenaBytes(const Module& m) {
  int64_t top = 0;
  for (const LiveBuffer& b : liveBuffers(m))
    if (b.offset >= 0) top = std::max(top, b.offset + b.bytes);
  return top;
}

}  // namespace lrc::ir
