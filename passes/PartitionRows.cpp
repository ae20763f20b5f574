// partition-rows (docs/row-plans.md step 2): for every row pipeline (the ops marked
// `pipeline=K` by fuse-row-pipelines), chooses forward and backward strips and records, per
// op and per strip, the rows of the op's result that the strip computes.
//
// Options (PartitionRowsOptions in passes/PassOptions.h, named here by lrc-opt's keys):
// `strategy` = 2ps | overl (default 2ps), `strips` = forward strip count N
// (default 4), `bp-strips` = backward strip count M (default = strips); counts are >= 1;
// `keep` = pipeline ids separated by ':' (e.g. keep=0:3) left unpartitioned: they train
// layer by layer, keeping their activations instead of recomputing strips (the plan
// search's knob between memory and recompute); `per` = per-pipeline strip counts
// `id/n` separated by ':' (e.g. per=0/2:3/8), which override `strips` and `bp-strips` for
// those pipelines (forward and backward alike); `reuse` = pipeline ids (':') whose backward
// reuses the last forward strip instead of recomputing it (`reuse_last=1` on the first op);
// `strategies` = per-pipeline strategies `id/2ps` or `id/overl` separated by ':'.
//
// Rules (the lead is to copy them into docs/row-plans.md step 2):
//  - A pipeline's ops are the ops with pipeline=K, in program order; they must all be
//    row-local. Its output is the one value defined in the pipeline and used outside it
//    (by another op or as a module output); zero or several such values are an error.
//  - Strips are chosen on the pipeline's OUTPUT rows: N contiguous ranges [o_j, o_{j+1})
//    with 0 = o_0 < o_1 < ... < o_N = H_out. Every op's rows are derived from them by
//    walking the pipeline backwards with RowAnalysis::inputRows; a value read by several
//    pipeline ops (a residual branch) needs the hull of what its readers need. Strips thus
//    stay on the sampling grid of every strided layer by construction.
//  - OverL: strip j computes, at every op, need_j = the rows output rows [o_j, o_{j+1})
//    need (halos included; strips overlap). Rows that no output row needs are computed by
//    no strip. Boundaries: equal output rows, o_j = floor(j * H_out / N).
//  - 2PS: a strip boundary is a consistent prefix family: per op a prefix [0, P(op)) such
//    that the rows inputRows(op, i, [0, P(op))) of every pipeline-defined operand i lie in
//    [0, P(operand)) (a strip then reads only rows that it or an earlier strip computed, and
//    a later strip's gradient reaches only rows of the same or an earlier strip). Two such
//    families, and the per-op max of any two:
//      - output-side: need(o)(op) = end of the rows output rows [0, o) need at the op;
//      - input-side: fwd(x)(op) = end of the rows computable from the first op's rows [0, x),
//        in program order: the largest prefix whose operand rows lie in the operands'
//        prefixes (an op with no pipeline-defined map operand: floor(x * H / H_first)).
//    Boundaries F_j(op) = max(need(o_j)(op), the largest prefix whose operand rows lie in the
//    operands' F_j; the first op: x_j), in program order (the max of both families, closed:
//    when an operand is complete, so is its reader), with 0 = o_0 <= o_1 <= ... <= o_N = H_out
//    and 0 = x_0 <= ... <= x_N = H_first (F_0 = 0, F_N = the op's full height); strip j
//    computes [F_j(op), F_{j+1}(op)) at every op: a strip may compute no output rows (its
//    rows are at the early, large maps) or nothing at an inner op. A forward prefix whose rows
//    read only padding of an operand (a top pad before any row of it) counts as empty, so
//    that no strip computes rows from padding alone (it would read an empty band).
//    `fp_halo` holds, per strip, the rows of operand 0 that strip j reads but an earlier
//    strip computed (the boundary rows taken from the earlier strips' caches):
//    [r, F_j(producer)) where [r, ...) = inputRows(op, 0, [F_j, F_{j+1})), or [0,0)
//    when there are none, when the strip computes nothing there, or when operand 0 is not
//    defined in the pipeline (the pipeline's input is kept whole: nothing is cached).
//    A binary op (add, sub, mul, div) also gets `fp_halo1`, the same for its operand 1 (a
//    residual add's skip); an operand that is a whole per-channel tensor gets none.
//    An empty 2PS strip at an op prints as [E,E] (E = F_j = F_{j+1} at that op).
//    Boundaries balance the per-strip working set W_j = sum over the pipeline's ops of
//    (rows strip j computes) x (bytes per row of the op's result = N*C*W*elem), two ways:
//      (a) output-side only (x_j = 0 for j < N): start from equal output rows, then
//          repeatedly move one interior o_j by -1 or +1 (first boundary first, -1 before +1;
//          every strip keeps >= 1 output row) when that makes the vector of W_j sorted in
//          decreasing order lexicographically smaller (the max goes down, or stays and the
//          next largest goes down, ...), until no move helps;
//      (b) hybrid: start from o_j = 0 and x_j the least x whose prefix fwd(x) holds j/N of
//          the pipeline's bytes (or the x just below, when nearer), then the same moves on
//          o_j and on x_j (first boundary first, o before x, -1 before +1; both sequences
//          stay nondecreasing, strips may be empty).
//    (b) is taken when its largest W_j is smaller than (a)'s and so is its largest W'_j, the
//    working set with the operand bands the strip assembles (each op whose strip reads rows
//    of a pipeline-defined operand that an earlier strip computed reads them from a rows_copy
//    band, alive with the strip's bands through its backward: + those rows x the operand's
//    bytes per row); else (a). With a deep pipeline over a shrinking map (SqueezeNet 1.1:
//    111 stem rows, 13 output rows) one output row needs over half the stem, and only
//    input-side boundaries split it; on a short one (a VGG block) (b) may lower W but raise
//    W' (its strips cache more boundary rows), and (a) stays.
//  - Backward strips use the same rule with M strips (`bp_rows`); 2PS runs them in reverse
//    order at execution, which does not change the ranges.
//  - More strips than rows: OverL counts are clamped to H_out, 2PS counts to the larger of
//    H_out and H_first (past H_out only (b) exists); the requested count is kept as
//    `strips_requested` / `bp_strips_requested` on the pipeline's first op.
//  - Attributes: on every pipeline op `fp_rows=[a0,b0,a1,b1,...]`, `bp_rows=[...]`, and for
//    2PS `fp_halo=[c0,d0,...]`; on its first op `strategy="2ps"|"overl"`, `strips=N`,
//    `bp_strips=M`, and `work` = forward rows computed over all strips / rows of the maps,
//    each op weighted by its bytes per row (OverL: >= 1 from halos; 2PS: 1.0, its cost is
//    the backward recompute, counted later).
//  - A map read by a recomputed reduction point (its batchnorm_stats, outside the pipeline:
//    fuse-row-pipelines) needs all its rows: under OverL its strips are widened so that they
//    cover every row (2PS strips cover every row anyway); the statistics' reader is not a
//    pipeline op and does not make the map escape.
//  - A pipeline that ends with the per-pixel loss (fuse-row-pipelines' option `loss`): its
//    output is the scalar loss, whose rows are its logits' (output row r = the loss terms of
//    logits row r and label row r); strips are cut on them as on a map's, and the loss's own
//    rows per strip (fp_rows, bp_rows) partition them under both strategies, so every
//    pixel's term is counted once. Its bytes per row are 0 (the strips' partial sums are
//    scalars).
//  - Idempotent: all attributes above are removed first and recomputed.
#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "passes/Pass.h"
#include "passes/RowAnalysis.h"

namespace lrc::passes {

namespace {

using ir::Op;
using ir::Value;
using ir::ValueMap;
using ir::ValueSet;

const char* const kOwnAttrs[] = {"reuse_last", "fp_rows", "fp_halo", "fp_halo1", "bp_rows", "strategy", "strips",
                                 "bp_strips", "strips_requested", "bp_strips_requested", "work"};

template <class... Parts>
std::string cat(const Parts&... parts) {
  std::string s;
  ((s += parts), ...);
  return s;
}

struct Pipeline {
  int64_t id = 0;
  std::vector<Op*> ops;             // program order
  ValueSet defined;   // results of its ops
  Value* output = nullptr;
  std::vector<const Value*> reduced;  // maps a recomputed reduction point reads (all their rows)
};

// The rows of a map; a per-pixel loss that ends a pipeline (a scalar) has its logits' rows
// (RowAnalysis's rowsValue).
int64_t heightOf(const Value* v) {
  if (v->def && v == v->def->result()) v = rowsValue(*v->def);
  return v->type.shape.at(2);
}
int64_t bytesPerRow(const Value* v) { return v->type.bytes() / std::max<int64_t>(heightOf(v), 1); }

[[noreturn]] void fail(const Pipeline& p, const std::string& what) {
  std::string msg = "partition-rows: pipeline ";
  msg += std::to_string(p.id);
  msg += ": ";
  msg += what;
  throw ir::Error(msg, p.ops.front()->loc);
}

// The rows of every value defined in the pipeline that output rows `out` need (hull over
// the pipeline ops reading it), with `seeds` (rows of values needed besides). Reverse program
// order: readers come after writers.
ValueMap<RowRange> needed(const Pipeline& p, RowRange out, const ValueMap<RowRange>& seeds = {}) {
  ValueMap<RowRange> need = seeds;
  need[p.output] = hull(need[p.output], out);
  for (auto it = p.ops.rbegin(); it != p.ops.rend(); ++it) {
    const Op& op = **it;
    const RowRange rows = need[op.result()];
    for (size_t i = 0; i < op.operands.size(); ++i) {
      const Value* v = op.operands[i];
      if (!p.defined.count(v)) continue;
      need[v] = hull(need[v], inputRows(op, i, rows));
    }
  }
  return need;
}

class PartitionRows : public Pass {
 public:
  std::string_view name() const override { return "partition-rows"; }

  explicit PartitionRows(const PartitionRowsOptions& o)
      : strategy_(o.strategy),
        keep_(o.keep.begin(), o.keep.end()),
        per_(o.per),
        reuse_(o.reuse.begin(), o.reuse.end()),
        strategies_(o.strategies),
        strips_(o.strips),
        bpStrips_(o.bpStrips) {}

  bool transform(ir::Module& m) override {
    std::map<const Op*, ir::Attrs> before;
    for (auto& op : m.ops) {
      before[op.get()] = op->attrs;
      for (const char* a : kOwnAttrs) op->attrs.erase(a);
    }
    for (Pipeline& p : collect(m))
      if (!keep_.count(p.id)) partition(p);
    bool changed = false;
    for (auto& op : m.ops) changed |= before[op.get()] != op->attrs;
    return changed;
  }

 private:
  RowStrategy strategy_;
  std::set<int64_t> keep_;           // pipelines left layerwise
  std::map<int64_t, int64_t> per_;   // pipeline -> strips (forward and backward)
  std::set<int64_t> reuse_;          // pipelines whose last forward strip backward reuses
  std::map<int64_t, RowStrategy> strategies_;  // pipeline -> its own strategy
  int64_t strips_;
  int64_t bpStrips_;  // -1: same as strips_

  std::vector<Pipeline> collect(ir::Module& m) const {
    std::map<int64_t, Pipeline> byId;
    for (auto& op : m.ops) {
      if (!op->has("pipeline")) continue;
      Pipeline& p = byId[op->getInt("pipeline")];
      p.id = op->getInt("pipeline");
      p.ops.push_back(op.get());
      for (Value* r : op->results) p.defined.insert(r);
    }
    std::vector<Pipeline> result;
    for (auto& [id, p] : byId) {
      std::vector<Value*> outputs;
      for (Op* op : p.ops) {
        if (!isRowLocal(*op)) fail(p, cat(op->describe(), " is not row-local"));
        for (Value* r : op->results) {
          bool escapes = std::find(m.outputs.begin(), m.outputs.end(), r) != m.outputs.end();
          bool reduced = false;
          for (const Op* user : m.users(r)) {
            reduced |= isRecomputedPoint(*user);
            if (!isRecomputedPoint(*user) && (!user->has("pipeline") || user->getInt("pipeline") != id)) escapes = true;
          }
          if (reduced) p.reduced.push_back(r);
          if (escapes) outputs.push_back(r);
        }
      }
      if (outputs.size() != 1) {
        std::string names;
        for (const Value* v : outputs) {
          names += names.empty() ? " (%" : ", %";
          names += v->name;
        }
        if (!names.empty()) names += ")";
        fail(p, cat("must have exactly one output map (a value used after it), found ",
                    std::to_string(outputs.size()), names));
      }
      p.output = outputs.front();
      result.push_back(std::move(p));
    }
    return result;
  }

  // Row ranges per op result (index = position in p.ops) per strip.
  using Table = std::vector<std::vector<RowRange>>;  // [op][strip]

  static Table overlRows(const Pipeline& p, const std::vector<int64_t>& o) {
    const size_t n = o.size() - 1;
    Table t(p.ops.size(), std::vector<RowRange>(n));
    std::vector<ValueMap<RowRange>> seeds(n);
    for (int round = 0; round < 2; ++round) {
      for (size_t j = 0; j < n; ++j) {
        auto need = needed(p, {o[j], o[j + 1]}, seeds[j]);
        for (size_t k = 0; k < p.ops.size(); ++k) {
          RowRange r = need[p.ops[k]->result()];
          t[k][j] = r.empty() ? RowRange{0, 0} : r;
        }
      }
      if (p.reduced.empty() || round == 1) break;
      // A map a recomputed point reads: its strips also cover the rows no output row needs
      // (from 0, up to the next strip's first row, to its height), so that backward's second
      // pass propagates the statistics' gradient of every row.
      for (const Value* x : p.reduced) {
        size_t kx = 0;
        while (p.ops[kx]->result() != x) ++kx;
        for (size_t j = 0; j < n; ++j) {
          const int64_t begin = j == 0 ? 0 : t[kx][j].begin;
          const int64_t end = j + 1 == n ? heightOf(x) : t[kx][j + 1].begin;
          seeds[j][x] = {begin, std::max(end, begin + 1)};
        }
      }
    }
    return t;
  }

  // endAt[o][k] = E(op k, output rows [0, o)) for o = 0..H_out (running max: monotone).
  static std::vector<std::vector<int64_t>> twoPsEnds(const Pipeline& p) {
    const int64_t hOut = heightOf(p.output);
    std::vector<std::vector<int64_t>> endAt(static_cast<size_t>(hOut) + 1, std::vector<int64_t>(p.ops.size(), 0));
    for (int64_t o = 1; o <= hOut; ++o) {
      auto need = needed(p, {0, o});
      for (size_t k = 0; k < p.ops.size(); ++k) {
        RowRange r = need[p.ops[k]->result()];
        endAt[o][k] = std::max(endAt[o - 1][k], r.empty() ? 0 : r.end);
      }
    }
    return endAt;
  }

  static Table twoPsRows(const Pipeline& p, const std::vector<std::vector<int64_t>>& endAt,
                         const std::vector<int64_t>& o) {
    const size_t n = o.size() - 1;
    Table t(p.ops.size(), std::vector<RowRange>(n));
    for (size_t k = 0; k < p.ops.size(); ++k) {
      int64_t begin = 0;
      for (size_t j = 0; j < n; ++j) {
        int64_t end = j + 1 == n ? heightOf(p.ops[k]->result()) : endAt[static_cast<size_t>(o[j + 1])][k];
        end = std::max(end, begin);
        t[k][j] = end > begin ? RowRange{begin, end} : RowRange{begin, begin};
        begin = end;
      }
    }
    return t;
  }

  static std::vector<int64_t> costs(const Pipeline& p, const Table& t) {
    std::vector<int64_t> w(t.empty() ? 0 : t[0].size(), 0);
    for (size_t k = 0; k < p.ops.size(); ++k)
      for (size_t j = 0; j < w.size(); ++j) w[j] += t[k][j].size() * bytesPerRow(p.ops[k]->result());
    std::sort(w.begin(), w.end(), std::greater<>());
    return w;
  }

  // The working sets with the operand bands a strip assembles (2PS): besides the rows it
  // computes, each op whose strip reads rows of a pipeline-defined operand that an earlier
  // strip computed reads them from a band assembled from boundary pieces and the strip's own
  // rows (rows_copy), alive with the strip's bands through its backward. Sorted decreasing.
  static std::vector<int64_t> costsWithOperands(const Pipeline& p, const Table& t) {
    std::vector<int64_t> w(t.empty() ? 0 : t[0].size(), 0);
    ValueMap<size_t> index;
    for (size_t k = 0; k < p.ops.size(); ++k) index[p.ops[k]->result()] = k;
    for (size_t k = 0; k < p.ops.size(); ++k) {
      const Op& op = *p.ops[k];
      for (size_t j = 0; j < w.size(); ++j) {
        if (t[k][j].empty()) continue;
        w[j] += t[k][j].size() * bytesPerRow(op.result());
        for (size_t i = 0; i < op.operands.size(); ++i) {
          auto producer = index.find(op.operands[i]);
          if (producer == index.end() || !isRowIndexed(op, i)) continue;
          const RowRange reads = inputRows(op, i, t[k][j]);
          if (!reads.empty() && reads.begin < t[producer->second][j].begin)
            w[j] += reads.size() * bytesPerRow(op.operands[i]);
        }
      }
    }
    std::sort(w.begin(), w.end(), std::greater<>());
    return w;
  }

  static std::vector<int64_t> equalSplit(int64_t h, int64_t n) {
    std::vector<int64_t> o(static_cast<size_t>(n) + 1);
    for (int64_t j = 0; j <= n; ++j) o[static_cast<size_t>(j)] = j * h / n;
    return o;
  }

  // The strategy of pipeline `id`: its own (option `strategies`) or the pass's.
  RowStrategy strategyOf(int64_t id) const {
    auto own = strategies_.find(id);
    return own != strategies_.end() ? own->second : strategy_;
  }

  // Local search over strip boundaries: moves one interior entry of one of `boundaries` by -1 or
  // +1 (first boundary first; the vectors in order; -1 before +1) while that makes cost()
  // (read with the moved entry in place) lexicographically smaller. An entry stays within its
  // neighbours, strictly inside them when `strict`. Returns the final cost.
  template <class Cost>
  static std::vector<int64_t> descend(const std::vector<std::vector<int64_t>*>& boundaries, bool strict, Cost cost) {
    std::vector<int64_t> best = cost();
    const size_t count = boundaries.front()->size();
    for (bool improved = true; improved;) {
      improved = false;
      for (size_t b = 1; b + 1 < count && !improved; ++b)
        for (std::vector<int64_t>* v : boundaries) {
          for (int64_t step : {-1, 1}) {
            const int64_t old = (*v)[b], moved = old + step;
            if (strict ? moved <= (*v)[b - 1] || moved >= (*v)[b + 1] : moved < (*v)[b - 1] || moved > (*v)[b + 1])
              continue;
            (*v)[b] = moved;
            std::vector<int64_t> c = cost();
            if (c < best) {
              best = std::move(c);
              improved = true;
              break;
            }
            (*v)[b] = old;
          }
          if (improved) break;
        }
    }
    return best;
  }

  // Hybrid 2PS boundaries (o, x), closed in program order: per op, the larger of the rows
  // output rows [0, o) need (endAt[o]) and the largest prefix [0, P) whose rows of every
  // pipeline-defined operand lie within that operand's (closed) prefix; an op with no such
  // operand (the first op) gets floor(x * H / H_first). A prefix whose rows read only padding
  // of an operand (a top pad) counts as none: a strip must read some rows of each operand.
  // Consistent by construction; with o = 0 it is the input-side family fwd(x).
  class Forward {
   public:
    Forward(const Pipeline& p, const std::vector<std::vector<int64_t>>& endAt) : p_(p), endAt_(endAt) {
      for (size_t k = 0; k < p.ops.size(); ++k) index_[p.ops[k]->result()] = k;
    }
    int64_t first() const { return heightOf(p_.ops.front()->result()); }
    const std::vector<int64_t>& at(int64_t o, int64_t x) {
      auto it = memo_.find({o, x});
      if (it != memo_.end()) return it->second;
      const std::vector<int64_t>& need = endAt_[static_cast<size_t>(o)];
      std::vector<int64_t> ends(p_.ops.size(), 0);
      for (size_t k = 0; k < p_.ops.size(); ++k) {
        const Op& op = *p_.ops[k];
        const int64_t h = heightOf(op.result());
        std::vector<std::pair<size_t, int64_t>> limits;  // operand, its prefix end
        for (size_t i = 0; i < op.operands.size(); ++i) {
          auto producer = index_.find(op.operands[i]);
          if (producer != index_.end() && isRowIndexed(op, i)) limits.emplace_back(i, ends[producer->second]);
        }
        if (limits.empty()) {
          ends[k] = std::max(need[k], x * h / std::max<int64_t>(first(), 1));
          continue;
        }
        auto fits = [&](int64_t rows) {
          for (const auto& limit : limits)
            if (inputRows(op, limit.first, {0, rows}).end > limit.second) return false;
          return true;
        };
        int64_t lo = 0, hi = h;  // fits(0): no rows read nothing
        while (lo < hi) {
          const int64_t mid = lo + (hi - lo + 1) / 2;
          if (fits(mid)) lo = mid;
          else hi = mid - 1;
        }
        for (const auto& limit : limits)
          if (lo > 0 && inputRows(op, limit.first, {0, lo}).empty()) lo = 0;
        ends[k] = std::max(need[k], lo);
      }
      return memo_.emplace(std::make_pair(o, x), std::move(ends)).first->second;
    }

   private:
    const Pipeline& p_;
    const std::vector<std::vector<int64_t>>& endAt_;
    ValueMap<size_t> index_;
    std::map<std::pair<int64_t, int64_t>, std::vector<int64_t>> memo_;
  };

  // 2PS strips from boundaries (o_j, x_j), j = 0..n, both nondecreasing: strip j computes at
  // op k [F_j(k), F_{j+1}(k)) with F_j = fw.at(o_j, x_j), F_0 = 0, F_n = H.
  static Table hybridRows(const Pipeline& p, Forward& fw, const std::vector<int64_t>& o, const std::vector<int64_t>& x) {
    const size_t n = o.size() - 1;
    Table t(p.ops.size(), std::vector<RowRange>(n));
    std::vector<int64_t> begin(p.ops.size(), 0);
    for (size_t j = 0; j < n; ++j) {
      const std::vector<int64_t>* f = j + 1 == n ? nullptr : &fw.at(o[j + 1], x[j + 1]);
      for (size_t k = 0; k < p.ops.size(); ++k) {
        int64_t end = f ? (*f)[k] : heightOf(p.ops[k]->result());
        end = std::max(end, begin[k]);
        t[k][j] = {begin[k], end};
        begin[k] = end;
      }
    }
    return t;
  }

  // Balanced hybrid boundaries for `n` strips: start from input-side boundaries x_j whose
  // prefixes hold about j/n of the pipeline's bytes (o_j = 0), then move one interior o_j or
  // x_j by -1 or +1 (descend; both stay nondecreasing) while that makes the sorted working
  // sets lexicographically smaller. Returns the strips and their sorted working sets.
  static std::pair<Table, std::vector<int64_t>> balancedHybrid(const Pipeline& p,
                                                               const std::vector<std::vector<int64_t>>& endAt,
                                                               int64_t n) {
    Forward fw(p, endAt);
    const int64_t hOut = heightOf(p.output), h0 = fw.first();
    const size_t count = static_cast<size_t>(n);
    int64_t total = 0;
    for (const Op* op : p.ops) total += heightOf(op->result()) * bytesPerRow(op->result());
    auto prefixBytes = [&](int64_t x) {
      const std::vector<int64_t>& f = fw.at(0, x);
      int64_t sum = 0;
      for (size_t k = 0; k < p.ops.size(); ++k) sum += f[k] * bytesPerRow(p.ops[k]->result());
      return sum;
    };
    std::vector<int64_t> o(count + 1, 0), x(count + 1, 0);
    o[count] = hOut;
    x[count] = h0;
    for (size_t j = 1; j < count; ++j) {
      const int64_t target = static_cast<int64_t>(j) * total / n;
      int64_t lo = x[j - 1], hi = h0;  // first x with prefixBytes(x) >= target
      while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (prefixBytes(mid) >= target) hi = mid;
        else lo = mid + 1;
      }
      if (lo > x[j - 1] && target - prefixBytes(lo - 1) < prefixBytes(lo) - target) --lo;
      x[j] = lo;
    }
    std::vector<int64_t> cost = descend({&o, &x}, false, [&] { return costs(p, hybridRows(p, fw, o, x)); });
    return {hybridRows(p, fw, o, x), std::move(cost)};
  }

  // Strip rows for `n` strips under the pipeline's strategy. 2PS: the balanced output-row
  // boundaries when n <= H_out, unless the balanced hybrid boundaries make the largest strip's
  // working set smaller (then those).
  Table stripRows(const Pipeline& p, int64_t n) const {
    const int64_t hOut = heightOf(p.output);
    if (strategyOf(p.id) == RowStrategy::OverL) return overlRows(p, equalSplit(hOut, n));
    const auto endAt = twoPsEnds(p);
    auto [hybrid, hybridCost] = balancedHybrid(p, endAt, n);
    if (n > hOut) return hybrid;
    std::vector<int64_t> o = equalSplit(hOut, n);
    const std::vector<int64_t> best = descend({&o}, true, [&] { return costs(p, twoPsRows(p, endAt, o)); });
    Table output = twoPsRows(p, endAt, o);
    if (best.empty() || hybridCost.front() >= best.front()) return output;
    return costsWithOperands(p, hybrid).front() < costsWithOperands(p, output).front() ? hybrid : output;
  }

  static ir::IntList flatten(const std::vector<RowRange>& rows) {
    ir::IntList l;
    for (const RowRange& r : rows) {
      l.push_back(r.begin);
      l.push_back(r.end);
    }
    return l;
  }

  void partition(Pipeline& p) const {
    const int64_t hOut = heightOf(p.output);
    auto own = per_.find(p.id);
    const int64_t wantFp = own != per_.end() ? own->second : strips_;
    const int64_t wantBp = own != per_.end() ? own->second : (bpStrips_ < 0 ? strips_ : bpStrips_);
    // 2PS strips may hold no output rows (input-side boundaries): up to the taller of the
    // output's and the first op's rows; OverL strips each hold output rows.
    const int64_t most = strategyOf(p.id) == RowStrategy::TwoPS ? std::max(hOut, heightOf(p.ops.front()->result())) : hOut;
    const int64_t nFp = std::min(wantFp, most), nBp = std::min(wantBp, most);
    const Table fp = stripRows(p, nFp), bp = stripRows(p, nBp);

    ValueMap<size_t> index;
    for (size_t k = 0; k < p.ops.size(); ++k) index[p.ops[k]->result()] = k;

    int64_t computed = 0, layerwise = 0;
    for (size_t k = 0; k < p.ops.size(); ++k) {
      Op& op = *p.ops[k];
      op.attrs["fp_rows"] = flatten(fp[k]);
      op.attrs["bp_rows"] = flatten(bp[k]);
      const int64_t bpr = bytesPerRow(op.result());
      layerwise += heightOf(op.result()) * bpr;
      for (const RowRange& r : fp[k]) computed += r.size() * bpr;
      if (strategyOf(p.id) != RowStrategy::TwoPS) continue;
      // Operand 0, and operand 1 of a binary op (`fp_halo1`: a residual add's skip); not a
      // whole per-channel operand (an SE gate).
      for (size_t i = 0; i < (ops::isBinaryElementwise(op.kind) ? 2u : 1u); ++i) {
        if (!isRowIndexed(op, i)) continue;
        std::vector<RowRange> halo(fp[k].size(), RowRange{0, 0});
        auto producer = index.find(op.operands.at(i));
        for (size_t j = 1; j < fp[k].size() && producer != index.end(); ++j) {
          if (fp[k][j].empty()) continue;
          const RowRange reads = inputRows(op, i, fp[k][j]);
          const int64_t cachedEnd = fp[producer->second][j - 1].end;  // = E_{j-1}(producer)
          if (!reads.empty() && reads.begin < cachedEnd) halo[j] = {reads.begin, std::min(cachedEnd, reads.end)};
        }
        op.attrs[i == 0 ? "fp_halo" : "fp_halo1"] = flatten(halo);
      }
    }

    Op& first = *p.ops.front();
    first.attrs["strategy"] = std::string(passes::name(strategyOf(p.id)));
    if (reuse_.count(p.id)) first.attrs["reuse_last"] = int64_t{1};
    first.attrs["strips"] = nFp;
    first.attrs["bp_strips"] = nBp;
    if (nFp != wantFp) first.attrs["strips_requested"] = wantFp;
    if (nBp != wantBp) first.attrs["bp_strips_requested"] = wantBp;
    first.attrs["work"] = layerwise > 0 ? static_cast<double>(computed) / static_cast<double>(layerwise) : 1.0;
  }
};

}  // namespace

std::unique_ptr<Pass> createPartitionRowsPass(const PartitionRowsOptions& options) {
  return std::make_unique<PartitionRows>(options);
}

}  // namespace lrc::passes
